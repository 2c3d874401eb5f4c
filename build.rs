//! Link settings of the shared library.
//!
//! `-z nodelete`: a host that `dlclose`s libcxoauth keeps it mapped, because the runtime's
//! worker threads (which live as long as the process) run its code.
//!
//! The SONAME is left to the packaging build (`cargo cinstall`, which sets the versioned
//! `libcxoauth.so.0.2`): a plain `cargo build` artifact in target/ is linked by path by the
//! in-tree tests and bindings, and a SONAME there would make them look for a file that
//! `cargo build` does not create.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" || target_os == "android" || target_os.ends_with("bsd") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
}
