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

    /// About how many bytes the dictionary holds on the heap (values and
    /// lookup tables, as allocated; a hash entry costs its key, its code and
    /// a control byte).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Dict::Str(d) => {
                d.bytes.capacity()
                    + d.ends.capacity() * size_of::<u32>()
                    + d.short.capacity() * (size_of::<(u128, u32)>() + 1)
                    + d.medium.capacity() * (size_of::<((u128, u128), u32)>() + 1)
                    + d.long.capacity() * (size_of::<u32>() + 1)
            }
            Dict::Int(d) => {
                d.values.capacity() * size_of::<i64>()
                    + d.dense.capacity() * size_of::<u16>()
                    + d.sparse.capacity() * (size_of::<(i64, u32)>() + 1)
            }
        }
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

/// String dictionary: values packed in one byte arena, looked up without
/// allocating on a hit. Values of up to [`SHORT`] bytes (accounts, addresses,
/// actions) are found by their [`short_key`], one integer; of up to
/// [`MEDIUM`] bytes (ENI, VPC, subnet and instance ids, IPv6 addresses) by
/// their [`medium_key`], two; longer ones by a hash of their bytes.
#[derive(Debug, Clone, Default)]
pub struct StrDict {
    bytes: Vec<u8>,
    ends: Vec<u32>,
    short: HashMap<u128, u32>,
    medium: HashMap<(u128, u128), u32>,
    long: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

/// Longest value with a [`short_key`].
pub(crate) const SHORT: usize = 15;

/// A value of up to [`SHORT`] bytes as one integer: its bytes and its length.
/// Never zero (values are never empty where keys are taken). A value of 4 or
/// more bytes is two overlapping word loads (where they overlap, the bytes
/// are the same), not a copy, which would stall the reload.
pub(crate) fn short_key(value: &[u8]) -> Option<u128> {
    let len = value.len();
    let bytes = match len {
        0..=3 => (0..len).fold(0, |key, i| key | u128::from(value[i]) << (8 * i)),
        4..=7 => word4(value, 0) | word4(value, len - 4) << (8 * (len - 4)),
        8..=SHORT => word8(value, 0) | word8(value, len - 8) << (8 * (len - 8)),
        _ => return None,
    };
    Some(bytes | (len as u128) << (8 * SHORT))
}

/// Longest value with a [`medium_key`].
const MEDIUM: usize = 16 + SHORT;

/// A value of more than [`SHORT`] and up to [`MEDIUM`] bytes as two integers:
/// its first 16 bytes, and the [`short_key`] of the rest.
fn medium_key(value: &[u8]) -> Option<(u128, u128)> {
    if value.len() > MEDIUM {
        return None;
    }
    let (head, rest) = value.split_first_chunk::<16>()?;
    Some((u128::from_le_bytes(*head), short_key(rest)?))
}

/// A value of up to [`MEDIUM`] bytes as a pair of integers: `(short_key, 0)`
/// for a short value, its [`medium_key`] for a longer one. Never `(0, 0)`.
pub(crate) fn key(value: &[u8]) -> Option<(u128, u128)> {
    match short_key(value) {
        Some(key) => Some((key, 0)),
        None => medium_key(value),
    }
}

/// The bytes of a non-null code in an arena of values ending at `ends`.
fn span<'a>(bytes: &'a [u8], ends: &[u32], code: u32) -> &'a [u8] {
    let i = code as usize - 1;
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &bytes[start..ends[i] as usize]
}

fn word4(value: &[u8], at: usize) -> u128 {
    value[at..]
        .first_chunk()
        .map_or(0, |b| u32::from_le_bytes(*b).into())
}

fn word8(value: &[u8], at: usize) -> u128 {
    value[at..]
        .first_chunk()
        .map_or(0, |b| u64::from_le_bytes(*b).into())
}

impl StrDict {
    /// The bytes of a non-null code (UTF-8, see [`StrDict::get`]).
    pub fn span(&self, code: u32) -> &[u8] {
        span(&self.bytes, &self.ends, code)
    }

    /// All values, concatenated in code order, and where each ends: code `c`
    /// is `bytes[ends[c - 2]..ends[c - 1]]` (from 0 for code 1). UTF-8.
    pub fn arena(&self) -> (&[u8], &[u32]) {
        (&self.bytes, &self.ends)
    }

    /// The string of a non-null code.
    pub fn get(&self, code: u32) -> &str {
        // Values are validated as UTF-8 when interned (see `intern_checked`).
        std::str::from_utf8(self.span(code)).unwrap_or("")
    }

    /// Interns UTF-8 bytes already known to be valid.
    pub fn intern(&mut self, value: &[u8]) -> u32 {
        match short_key(value) {
            Some(key) => match self.short.get(&key) {
                Some(&code) => code,
                None => self.insert_short(key, value),
            },
            None => self
                .find_long(value)
                .unwrap_or_else(|| self.insert_long(value)),
        }
    }

    /// Interns bytes, checking UTF-8 only for values not seen before.
    pub fn intern_checked(&mut self, value: &[u8]) -> Result<u32, std::str::Utf8Error> {
        match short_key(value) {
            Some(key) => self.intern_short(key, value),
            None => match self.find_long(value) {
                Some(code) => Ok(code),
                None => {
                    std::str::from_utf8(value)?;
                    Ok(self.insert_long(value))
                }
            },
        }
    }

    /// [`StrDict::intern_checked`] of a value whose [`short_key`] is `key`.
    fn intern_short(&mut self, key: u128, value: &[u8]) -> Result<u32, std::str::Utf8Error> {
        if let Some(&code) = self.short.get(&key) {
            return Ok(code);
        }
        // ASCII (every byte's high bit clear; the length byte is small) is
        // UTF-8: only other values need the full check.
        if key & u128::from_ne_bytes([0x80; 16]) != 0 {
            std::str::from_utf8(value)?;
        }
        Ok(self.insert_short(key, value))
    }

    /// [`StrDict::intern_checked`] of a value whose [`key`] is `key`.
    pub(crate) fn intern_key(
        &mut self,
        key: (u128, u128),
        value: &[u8],
    ) -> Result<u32, std::str::Utf8Error> {
        if key.1 == 0 {
            return self.intern_short(key.0, value);
        }
        if let Some(&code) = self.medium.get(&key) {
            return Ok(code);
        }
        std::str::from_utf8(value)?;
        Ok(self.insert_long(value))
    }

    fn push(&mut self, value: &[u8]) -> u32 {
        self.bytes.extend_from_slice(value);
        self.ends.push(self.bytes.len() as u32);
        self.ends.len() as u32
    }

    fn insert_short(&mut self, key: u128, value: &[u8]) -> u32 {
        let code = self.push(value);
        self.short.insert(key, code);
        code
    }

    /// A value longer than [`SHORT`] bytes, if present.
    fn find_long(&self, value: &[u8]) -> Option<u32> {
        if let Some(key) = medium_key(value) {
            return self.medium.get(&key).copied();
        }
        let hash = self.hasher.hash_one(value);
        self.long
            .find(hash, |&code| self.span(code) == value)
            .copied()
    }

    /// Adds a value longer than [`SHORT`] bytes, not present yet.
    fn insert_long(&mut self, value: &[u8]) -> u32 {
        let code = self.push(value);
        if let Some(key) = medium_key(value) {
            self.medium.insert(key, code);
            return code;
        }
        let (bytes, ends, hasher) = (&self.bytes, &self.ends, &self.hasher);
        self.long.insert_unique(hasher.hash_one(value), code, |&c| {
            hasher.hash_one(span(bytes, ends, c))
        });
        code
    }

    /// Reorders values by their bytes. Codes change, values do not, so the
    /// lookup tables keep their places and only their codes are rewritten.
    fn sort(&mut self) -> Vec<u32> {
        let mut order: Vec<(u128, u32)> = (1..=self.ends.len() as u32)
            .map(|code| (order_prefix(self.span(code)), code))
            .collect();
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| self.span(a.1).cmp(self.span(b.1)))
        });
        let mut remap = vec![NULL_CODE; self.ends.len() + 1];
        let mut bytes = Vec::with_capacity(self.bytes.len());
        let mut ends = Vec::with_capacity(self.ends.len());
        for (&(_, old), new) in order.iter().zip(1..) {
            bytes.extend_from_slice(self.span(old));
            ends.push(bytes.len() as u32);
            remap[old as usize] = new;
        }
        let tables = self.short.values_mut().chain(self.medium.values_mut());
        for code in tables.chain(self.long.iter_mut()) {
            *code = remap[*code as usize];
        }
        (self.bytes, self.ends) = (bytes, ends);
        remap
    }
}

/// The first 16 bytes of a value, zero-padded, as a big-endian integer: values
/// whose prefixes differ compare as their prefixes do.
fn order_prefix(value: &[u8]) -> u128 {
    let mut prefix = [0u8; 16];
    let len = value.len().min(16);
    prefix[..len].copy_from_slice(&value[..len]);
    u128::from_be_bytes(prefix)
}

/// Integer dictionary. Values below [`DENSE`] (ports, protocols, versions)
/// are looked up by index, larger ones by hash.
///
/// The dense table holds 16-bit codes (0 for a value not seen), so that the
/// tables of a window's two port columns stay in a core's cache; a code that
/// does not fit (more than [`ESCAPE`] values) is marked [`ESCAPE`] there and
/// kept in the hash map.
#[derive(Debug, Clone, Default)]
pub struct IntDict {
    values: Vec<i64>,
    dense: Vec<u16>,
    sparse: HashMap<i64, u32>,
}

/// Values looked up by index in an [`IntDict`].
const DENSE: i64 = 1 << 16;

/// A dense-table entry whose code is in the hash map.
const ESCAPE: u16 = u16::MAX;

impl IntDict {
    /// The values in code order: code `c` is `values()[c - 1]`.
    pub fn values(&self) -> &[i64] {
        &self.values
    }

    /// Interns an integer.
    #[inline]
    pub fn intern(&mut self, value: i64) -> u32 {
        match self.dense_code(value) {
            NULL_CODE => self.insert(value),
            code => code,
        }
    }

    /// The code of a value below [`DENSE`] if it is known; else null (also
    /// for any other value, known or not). One load, no hash (but for an
    /// escaped code).
    #[inline]
    pub(crate) fn dense_code(&self, value: i64) -> u32 {
        match usize::try_from(value)
            .ok()
            .and_then(|at| self.dense.get(at))
        {
            Some(&ESCAPE) => self.sparse.get(&value).copied().unwrap_or(NULL_CODE),
            Some(&code) => code.into(),
            None => NULL_CODE,
        }
    }

    /// Interns a value that is not in the dense table: a new small value, or
    /// a large one.
    fn insert(&mut self, value: i64) -> u32 {
        let next = self.values.len() as u32 + 1;
        let code = if (0..DENSE).contains(&value) {
            let at = value as usize;
            if at >= self.dense.len() {
                self.dense.resize(at + 1, 0);
            }
            self.set_dense(value, next);
            next
        } else {
            *self.sparse.entry(value).or_insert(next)
        };
        if code == next {
            self.values.push(value);
        }
        code
    }

    /// Sets the code of a value below [`DENSE`], escaping it if it is too large.
    fn set_dense(&mut self, value: i64, code: u32) {
        self.dense[value as usize] = dense_entry(&mut self.sparse, value, code);
    }

    /// Reorders values numerically, rewriting the codes in the lookup tables.
    /// Values below [`DENSE`] come in order from the dense table, which is
    /// rewritten in the same pass; only the others (negative or large, rare)
    /// are compared.
    fn sort(&mut self) -> Vec<u32> {
        let mut sparse: Vec<(i64, u32)> = self
            .sparse
            .iter()
            .filter(|&(&v, _)| !(0..DENSE).contains(&v))
            .map(|(&v, &c)| (v, c))
            .collect();
        sparse.sort_unstable();
        let (negative, large) = sparse.split_at(sparse.partition_point(|&(v, _)| v < 0));
        let mut remap = vec![NULL_CODE; self.values.len() + 1];
        let mut values = Vec::with_capacity(self.values.len());
        let mut place = |value: i64, old: u32| {
            values.push(value);
            remap[old as usize] = values.len() as u32;
            values.len() as u32
        };
        for &(value, old) in negative {
            place(value, old);
        }
        for (value, entry) in (0..).zip(&mut self.dense) {
            let old = match *entry {
                0 => continue,
                ESCAPE => self.sparse.remove(&value).unwrap_or(NULL_CODE),
                code => code.into(),
            };
            *entry = dense_entry(&mut self.sparse, value, place(value, old));
        }
        for &(value, old) in large {
            place(value, old);
        }
        for &(value, old) in negative.iter().chain(large) {
            self.sparse.insert(value, remap[old as usize]);
        }
        self.values = values;
        remap
    }
}

/// The dense-table entry of a small value's code: the code, or [`ESCAPE`]
/// with the code put in `sparse`.
fn dense_entry(sparse: &mut HashMap<i64, u32>, value: i64, code: u32) -> u16 {
    match u16::try_from(code) {
        Ok(code) if code != ESCAPE => code,
        _ => {
            sparse.insert(value, code);
            ESCAPE
        }
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

    proptest::proptest! {
        #[test]
        fn sorting_orders_values_and_keeps_lookups(
            strings in proptest::collection::vec("[ab\\x00]{0,20}", 0..40),
            ints in proptest::collection::vec(proptest::prop_oneof![0i64..70_000, proptest::num::i64::ANY], 0..40),
        ) {
            let mut d = Dict::Str(StrDict::default());
            let before: Vec<u32> = strings.iter().map(|v| d.intern_value(Value::Str(v))).collect();
            check_sort(d, &before, strings.iter().map(|v| Value::Str(v)).collect())?;
            let mut d = Dict::Int(IntDict::default());
            let before: Vec<u32> = ints.iter().map(|&v| d.intern_value(Value::Int(v))).collect();
            check_sort(d, &before, ints.iter().map(|&v| Value::Int(v)).collect())?;
        }
    }

    /// After sorting, codes follow value order, each old code maps to its
    /// value's new code, and interning a value again finds that code.
    fn check_sort(
        mut d: Dict,
        before: &[u32],
        values: Vec<Value<'_>>,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let remap = d.sort();
        let sorted: Vec<Value<'_>> = (1..=d.len() as u32).map(|c| d.value(c)).collect();
        proptest::prop_assert!(sorted.windows(2).all(|w| w[0] < w[1]), "{:?}", sorted);
        for (&old, value) in before.iter().zip(values) {
            let new = remap[old as usize];
            proptest::prop_assert_eq!(d.value(new), value);
            proptest::prop_assert_eq!(d.intern_value(value), new);
        }
        Ok(())
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
    fn codes_beyond_the_dense_width_are_escaped() {
        // Every small value, then a negative and a large one: the last small
        // values and, after sorting, the first ones too get escaped codes.
        let values: Vec<i64> = (0..DENSE).rev().chain([-1, 1 << 40]).collect();
        let intern_all = |d: &mut Dict| -> Vec<u32> {
            values
                .iter()
                .map(|&v| d.intern_value(Value::Int(v)))
                .collect()
        };
        let mut d = Dict::Int(IntDict::default());
        let before = intern_all(&mut d);
        assert_eq!(before, (1..=values.len() as u32).collect::<Vec<_>>());
        assert_eq!(intern_all(&mut d), before);
        check_sort(d, &before, values.iter().map(|&v| Value::Int(v)).collect()).unwrap();
    }

    #[test]
    fn short_keys_tell_every_short_value_apart() {
        let values: Vec<Vec<u8>> = (0..=SHORT + 1)
            .flat_map(|len| {
                (0..len).map(move |at| {
                    let mut v: Vec<u8> = (1..=len as u8).collect();
                    v[at] = 0xff;
                    v
                })
            })
            .collect();
        let mut keys = std::collections::HashSet::new();
        for v in &values {
            match short_key(v) {
                Some(key) => {
                    assert!(keys.insert(key), "{v:?}");
                    assert_eq!(key.to_le_bytes()[..v.len()], v[..]);
                }
                None => assert!(v.len() > SHORT),
            }
        }
    }

    #[test]
    fn values_of_every_length_intern_once() {
        let values: Vec<Vec<u8>> = (1..=MEDIUM + 3)
            .flat_map(|len| {
                (0..len).map(move |at| {
                    let mut v = vec![b'a'; len];
                    v[at] = b'b';
                    v
                })
            })
            .collect();
        let mut d = StrDict::default();
        let codes: Vec<u32> = values.iter().map(|v| d.intern(v)).collect();
        assert_eq!(codes, (1..=values.len() as u32).collect::<Vec<_>>());
        for (v, &code) in values.iter().zip(&codes) {
            assert_eq!(d.intern_checked(v), Ok(code));
            assert_eq!(d.span(code), &v[..]);
        }
    }

    #[test]
    fn invalid_utf8_is_refused() {
        let mut s = StrDict::default();
        assert!(s.intern_checked(&[0xff, 0xfe]).is_err());
        assert_eq!(s.intern_checked("ünïcode".as_bytes()).unwrap(), 1);
    }
}
