//! Config parsing: any text either parses or gives a CONFIG error; never a panic, and the error
//! never echoes the secret.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env: HashMap<String, String> = [
        ("GENESYSCLOUD_OAUTHCLIENT_SECRET".to_string(), "fuzz-secret-value".to_string()),
    ]
    .into_iter()
    .collect();
    if let Err(e) = cxoauth::Config::from_json_with_env(Some(text), &env) {
        assert_eq!(e.kind, cxoauth::ErrorKind::Config);
        assert!(!e.message.contains("fuzz-secret-value"));
    }
});
