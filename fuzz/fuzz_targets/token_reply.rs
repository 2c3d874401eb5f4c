//! Token endpoint replies: any status/body either yields a token or a classified error; the
//! secret never appears in the message.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = 100 + (u16::from_le_bytes([data[0], data[1]]) % 500);
    let body = &data[2..];
    match cxoauth::providers::parse_token_reply(status, Some("7"), body, "login.example", &["fuzz-secret"]) {
        Ok(grant) => {
            assert!((200..300).contains(&status));
            assert!(!grant.access_token.is_empty());
            assert!(grant.expires_in >= std::time::Duration::from_secs(1));
        }
        Err((e, _)) => assert!(!e.message.contains("fuzz-secret")),
    }
});
