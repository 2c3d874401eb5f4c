//! `cxoauth metrics`: a quick look at the library's metrics after the request(s) given.

use std::io::{self, Write};
use std::process::ExitCode;

use cxoauth::metrics::Format;

use crate::{body_and_headers, client, describe_error, Cli, Failure};

#[derive(clap::Args, Debug)]
pub struct MetricsArgs {
    /// Output format: Prometheus text exposition 0.0.4, or the same samples as JSON.
    #[arg(long, value_name = "FORMAT", value_parser = ["prometheus", "json"], default_value = "prometheus")]
    format: String,
    /// Send the request this many times (one after another).
    #[arg(short = 'n', long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10000))]
    count: u32,
    /// HTTP method of the request (none: only a token is fetched).
    #[arg(requires = "path")]
    method: Option<String>,
    /// A path on the API base or an absolute URL on the API host.
    path: Option<String>,
    /// A request header, "Name: value" (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Request body: literal text, @FILE, @- for stdin.
    #[arg(short = 'd', long = "data", value_name = "BODY|@FILE|@-")]
    data: Option<String>,
}

pub fn run(cli: &Cli, args: &MetricsArgs) -> Result<ExitCode, Failure> {
    let format = Format::parse(&args.format)?;
    let (body, headers) = body_and_headers(args.data.as_deref(), &args.headers)?;
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let client = client(cli)?;
    let mut failed = None;
    match (&args.method, &args.path) {
        (Some(method), Some(path)) => {
            for _ in 0..args.count {
                let req =
                    client.prepare(method, path, &headers, body.clone().map(bytes::Bytes::from))?;
                if let Err(e) = client.request_blocking(req, None) {
                    failed = Some(e);
                    break;
                }
            }
        }
        _ => failed = client.token_blocking(None).err(),
    }
    let mut out = io::stdout().lock();
    let mut text = client.metrics(format);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(match failed {
        Some(e) => {
            eprintln!("cxoauth: {}", describe_error(&e));
            ExitCode::from(1)
        }
        None => ExitCode::SUCCESS,
    })
}
