//! Object keys: a key that parses names a window whose name parses back to
//! the same window.
#![no_main]

use flowlog::{Window, parse_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(key) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(info) = parse_key(key) {
        let name = info.window.to_string();
        assert_eq!(name.parse::<Window>().ok(), Some(info.window), "{key}");
        assert_eq!(Window::from_stamp(&info.window.stamp()), Some(info.window));
    }
    if let Ok(window) = key.parse::<Window>() {
        assert_eq!(window.to_string().parse::<Window>().ok(), Some(window));
    }
});
