//! Generates the Jute records from `schema/*.jute` into `$OUT_DIR/records.rs`.

use std::path::PathBuf;

fn main() {
    let schema = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("schema");
    println!("cargo:rerun-if-changed={}", schema.display());
    let code = match jute_codegen::generate_dir(&schema) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("records.rs");
    std::fs::write(out, code).unwrap();
}
