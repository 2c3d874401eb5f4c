//! Header lines, methods and targets as the C ABI passes them: never a panic; accepted header
//! values never contain CR or LF; accepted targets stay on the API host.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines: Vec<&str> = text.split('\0').collect();
    if let Ok(map) = cxoauth::client::parse_headers(&lines) {
        for v in map.values() {
            assert!(!v.as_bytes().iter().any(|b| *b == b'\r' || *b == b'\n'));
        }
    }
    let _ = cxoauth::client::parse_method(lines[0]);
    let base = url::Url::parse("https://api.mypurecloud.de").unwrap();
    if let Ok(u) = cxoauth::client::resolve_target(&base, lines[0]) {
        assert_eq!(u.origin(), base.origin());
    }
});
