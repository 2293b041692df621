//! Passes `SESSCACHE_MUTANT=NAME` on as `--cfg sesscache_mutant="NAME"`, so
//! the mutant runner (`scripts/mutants.sh`) rebuilds only this crate for
//! each seeded bug instead of the whole dependency graph. Without the
//! variable nothing changes.
fn main() {
    println!("cargo:rerun-if-env-changed=SESSCACHE_MUTANT");
    if let Ok(name) = std::env::var("SESSCACHE_MUTANT") {
        if !name.is_empty() {
            println!("cargo:rustc-cfg=sesscache_mutant=\"{name}\"");
        }
    }
}
