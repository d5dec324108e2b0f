//! Interned dimension values. Every dimension cell is a `u32` code into its
//! column's dictionary, so a row's identity is a short slice of integers that
//! sorts and compares without touching strings. Code 0 is null.

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use std::hash::BuildHasher;

/// The null code of every dictionary.
pub const NULL_CODE: u32 = 0;

/// A borrowed dimension value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value<'a> {
    /// `-` in the input.
    Null,
    /// An integer dimension (port, protocol, version, ...).
    Int(i64),
    /// A string dimension.
    Str(&'a str),
}

/// Dictionary of one dimension column.
#[derive(Debug, Clone)]
pub enum Dict {
    /// String values.
    Str(StrDict),
    /// Integer values.
    Int(IntDict),
}

impl Dict {
    /// Number of distinct non-null values.
    pub fn len(&self) -> usize {
        match self {
            Dict::Str(d) => d.ends.len(),
            Dict::Int(d) => d.values.len(),
        }
    }

    /// Whether the dictionary holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of a code.
    pub fn value(&self, code: u32) -> Value<'_> {
        if code == NULL_CODE {
            return Value::Null;
        }
        match self {
            Dict::Str(d) => Value::Str(d.get(code)),
            Dict::Int(d) => Value::Int(d.values[code as usize - 1]),
        }
    }

    /// Interns a value of another dictionary (null maps to null).
    pub fn intern_value(&mut self, value: Value<'_>) -> u32 {
        match (self, value) {
            (_, Value::Null) => NULL_CODE,
            (Dict::Str(d), Value::Str(s)) => d.intern(s.as_bytes()),
            (Dict::Int(d), Value::Int(i)) => d.intern(i),
            // Mixed kinds cannot meet: a column's kind comes from its name.
            (Dict::Str(d), Value::Int(i)) => d.intern(i.to_string().as_bytes()),
            (Dict::Int(d), Value::Str(s)) => s.parse().map_or(NULL_CODE, |i| d.intern(i)),
        }
    }

    /// Sorts the values and returns `remap[old_code] = new_code`, so that code
    /// order equals value order (null first). Deterministic whatever order the
    /// values were interned in.
    pub fn sort(&mut self) -> Vec<u32> {
        match self {
            Dict::Str(d) => d.sort(),
            Dict::Int(d) => d.sort(),
        }
    }
}

/// String dictionary: values packed in one byte arena, looked up by hash
/// without allocating on a hit.
#[derive(Debug, Clone, Default)]
pub struct StrDict {
    bytes: Vec<u8>,
    ends: Vec<u32>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl StrDict {
    pub(crate) fn span(&self, code: u32) -> &[u8] {
        let i = code as usize - 1;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    /// The string of a non-null code.
    pub fn get(&self, code: u32) -> &str {
        // Values are validated as UTF-8 when interned (see `intern_checked`).
        std::str::from_utf8(self.span(code)).unwrap_or("")
    }

    /// Interns UTF-8 bytes already known to be valid.
    pub fn intern(&mut self, value: &[u8]) -> u32 {
        let hash = self.hasher.hash_one(value);
        if let Some(&code) = self.index.find(hash, |&c| self.span_eq(c, value)) {
            return code;
        }
        self.bytes.extend_from_slice(value);
        self.ends.push(self.bytes.len() as u32);
        let code = self.ends.len() as u32;
        let (bytes, ends, hasher) = (&self.bytes, &self.ends, &self.hasher);
        self.index.insert_unique(hash, code, |&c| {
            let i = c as usize - 1;
            let start = if i == 0 { 0 } else { ends[i - 1] as usize };
            hasher.hash_one(&bytes[start..ends[i] as usize])
        });
        code
    }

    /// Interns bytes, checking UTF-8 only for values not seen before.
    pub fn intern_checked(&mut self, value: &[u8]) -> Result<u32, std::str::Utf8Error> {
        let hash = self.hasher.hash_one(value);
        if let Some(&code) = self.index.find(hash, |&c| self.span_eq(c, value)) {
            return Ok(code);
        }
        std::str::from_utf8(value)?;
        Ok(self.intern(value))
    }

    fn span_eq(&self, code: u32, value: &[u8]) -> bool {
        self.span(code) == value
    }

    fn sort(&mut self) -> Vec<u32> {
        let mut order: Vec<u32> = (1..=self.ends.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| self.span(a).cmp(self.span(b)));
        let mut sorted = StrDict::default();
        let mut remap = vec![NULL_CODE; self.ends.len() + 1];
        for old in order {
            remap[old as usize] = sorted.intern(self.span(old));
        }
        *self = sorted;
        remap
    }
}

/// Integer dictionary.
#[derive(Debug, Clone, Default)]
pub struct IntDict {
    values: Vec<i64>,
    index: HashMap<i64, u32>,
}

impl IntDict {
    /// Interns an integer.
    pub fn intern(&mut self, value: i64) -> u32 {
        let next = self.values.len() as u32 + 1;
        let code = *self.index.entry(value).or_insert(next);
        if code == next {
            self.values.push(value);
        }
        code
    }

    fn sort(&mut self) -> Vec<u32> {
        let mut order: Vec<u32> = (1..=self.values.len() as u32).collect();
        order.sort_unstable_by_key(|&c| self.values[c as usize - 1]);
        let mut sorted = IntDict::default();
        let mut remap = vec![NULL_CODE; self.values.len() + 1];
        for old in order {
            remap[old as usize] = sorted.intern(self.values[old as usize - 1]);
        }
        *self = sorted;
        remap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_stable_and_sorting_orders_codes() {
        let mut d = Dict::Str(StrDict::default());
        let Dict::Str(s) = &mut d else { unreachable!() };
        let b = s.intern(b"beta");
        let a = s.intern(b"alpha");
        assert_eq!(s.intern(b"beta"), b);
        assert_ne!(a, b);
        let remap = d.sort();
        assert!(remap[a as usize] < remap[b as usize]);
        assert_eq!(d.value(remap[a as usize]), Value::Str("alpha"));
        assert_eq!(d.value(NULL_CODE), Value::Null);
    }

    #[test]
    fn int_dictionary_sorts_numerically() {
        let mut d = Dict::Int(IntDict::default());
        let codes: Vec<u32> = [443, 22, 8080, 22]
            .iter()
            .map(|&v| d.intern_value(Value::Int(v)))
            .collect();
        assert_eq!(codes[1], codes[3]);
        let remap = d.sort();
        let sorted: Vec<_> = codes.iter().map(|&c| d.value(remap[c as usize])).collect();
        assert_eq!(
            sorted,
            [
                Value::Int(443),
                Value::Int(22),
                Value::Int(8080),
                Value::Int(22)
            ]
        );
        assert!(remap[codes[1] as usize] < remap[codes[0] as usize]);
    }

    #[test]
    fn small_and_large_integers_intern_alike() {
        let mut d = IntDict::default();
        let codes: Vec<u32> = [70_000, 22, 70_000, 22, 1 << 40, 0]
            .iter()
            .map(|&v| d.intern(v))
            .collect();
        assert_eq!(codes, [1, 2, 1, 2, 3, 4]);
        let mut d = Dict::Int(d);
        let remap = d.sort();
        let order: Vec<_> = [4u32, 2, 1, 3].iter().map(|&c| remap[c as usize]).collect();
        assert_eq!(order, [1, 2, 3, 4]);
    }

    #[test]
    fn invalid_utf8_is_refused() {
        let mut s = StrDict::default();
        assert!(s.intern_checked(&[0xff, 0xfe]).is_err());
        assert_eq!(s.intern_checked("ünïcode".as_bytes()).unwrap(), 1);
    }
}
