//! Scrub each line of standard input as free text is stored, the rules and then the
//! vocabulary net, uncut, and print the result: a quick way to see what a text would be
//! stored as. `cargo run -p scrub --example scrub < log.txt`

use std::io::{BufRead, Write};

fn main() -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let scrubber = scrub::Scrubber::default();
    for line in std::io::stdin().lock().lines() {
        writeln!(out, "{}", scrubber.scrub_text(&line?, usize::MAX))?;
    }
    Ok(())
}
