//! Prints the validation report of each file given on the command line.
fn main() {
    for path in std::env::args().skip(1) {
        match std::fs::read(&path) {
            Ok(bytes) => {
                let r = muster_cacao::validate(&bytes);
                println!("{path}: {}", if r.is_valid() { "valid" } else { "INVALID" });
                for e in &r.errors {
                    println!("  error   {e}");
                }
                for w in &r.warnings {
                    println!("  warning {w}");
                }
            }
            Err(e) => println!("{path}: {e}"),
        }
    }
}
