//! Human-friendly sizes (`256MiB`, `64MB`, `1G`) and durations (`10m`, `90s`).

/// Parses a byte size: a number with an optional `K`, `M`, `G` suffix
/// (decimal with `B`, binary with `iB`; a bare letter is binary).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("invalid size {s:?}"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => {
            return Err(format!(
                "invalid size unit in {s:?} (use KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    match n.checked_mul(factor) {
        Some(0) => Err(format!("size {s:?} must be at least 1 byte")),
        Some(size) => Ok(size),
        None => Err(format!("size {s:?} is too large")),
    }
}

/// The smallest memory budget taken: below it, a step could not hold the
/// batches of a window's parts.
pub const MIN_MEMORY: u64 = 16 << 20;

/// Parses a memory budget: a size of at least [`MIN_MEMORY`].
pub fn parse_memory(s: &str) -> Result<u64, String> {
    match parse_size(s)? {
        bytes if bytes < MIN_MEMORY => Err(format!(
            "memory {s:?} is below the smallest budget, {}MiB",
            MIN_MEMORY >> 20
        )),
        bytes => Ok(bytes),
    }
}

/// Parses a thread count: at least 1.
pub fn parse_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("at least 1 thread is needed".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("invalid thread count {s:?}")),
    }
}

/// Parses a zstd level: one of [`columnar::ZSTD_LEVELS`].
pub fn parse_zstd_level(s: &str) -> Result<i32, String> {
    let levels = columnar::ZSTD_LEVELS;
    match s.trim().parse::<i32>() {
        Ok(level) if levels.contains(&level) => Ok(level),
        _ => Err(format!(
            "zstd level {s:?} is not a whole number from {} to {}",
            levels.start(),
            levels.end()
        )),
    }
}

/// Parses a duration in seconds: a number with an optional `s`, `m`, `h`.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let (digits, factor) = match t.chars().last() {
        Some('s') => (&t[..t.len() - 1], 1),
        Some('m') => (&t[..t.len() - 1], 60),
        Some('h') => (&t[..t.len() - 1], 3600),
        _ => (t, 1),
    };
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (e.g. 0, 90s, 10m, 1h)"))?;
    if n < 0 {
        return Err(format!("invalid duration {s:?}: negative"));
    }
    Ok(n * factor)
}

/// Formats bytes for people.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("256m"), Ok(256 << 20));
        assert_eq!(parse_size("64MB"), Ok(64_000_000));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("0MiB").unwrap_err().contains("at least 1 byte"));
    }

    #[test]
    fn counts_and_levels_are_range_checked() {
        assert_eq!(parse_memory("256MiB"), Ok(256 << 20));
        assert!(
            parse_memory("1MiB")
                .unwrap_err()
                .contains("smallest budget")
        );
        assert_eq!(parse_threads("4"), Ok(4));
        assert!(parse_threads("0").is_err());
        assert!(parse_threads("-1").is_err());
        assert_eq!(parse_zstd_level("22"), Ok(22));
        for bad in ["0", "23", "-5", "fast"] {
            let err = parse_zstd_level(bad).unwrap_err();
            assert!(err.contains("from 1 to 22"), "{err}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("10m"), Ok(600));
        assert_eq!(parse_duration("1h"), Ok(3600));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-5").is_err());
    }

    #[test]
    fn human() {
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
