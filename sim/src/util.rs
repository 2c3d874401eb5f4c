//! Small helpers: random identifiers and form-urlencoded decoding.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use percent_encoding::percent_decode;

/// A random UUID v4 in its usual text form.
pub fn uuid_v4() -> String {
    let mut b = fastrand::u128(..).to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A random access token: 64 URL-safe characters.
pub fn random_token() -> String {
    let mut bytes = [0u8; 48];
    fastrand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte.
pub fn form_decode(raw: &[u8]) -> String {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&c| if c == b'+' { b' ' } else { c })
        .collect();
    percent_decode(&plus_as_space)
        .decode_utf8_lossy()
        .into_owned()
}

/// The first value of `name` in parsed form parameters.
pub fn form_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Parses an `application/x-www-form-urlencoded` body into (name, value) pairs, in order.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    body.split(|&c| c == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.iter().position(|&c| c == b'=') {
            Some(i) => (form_decode(&pair[..i]), form_decode(&pair[i + 1..])),
            None => (form_decode(pair), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn form() {
        let p = parse_form(b"a=1+2&b=%3A%2F%2B&c&=x");
        assert_eq!(
            p,
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), ":/+".into()),
                ("c".into(), String::new()),
                (String::new(), "x".into()),
            ]
        );
        assert!(random_token().len() >= 64);
    }
}
