//! Build the vocabulary net's FST from a word list, one `word<TAB>flags` a line:
//! `cargo run --release -p scrub --example build_vocabulary -- words.txt vocabulary.fst`.
//! scrub/vocabulary/build.sh runs it; the words come from scrub/vocabulary/collect.py.

use std::io::{BufRead, BufWriter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(words), Some(out)) = (args.next(), args.next()) else {
        return Err("usage: build_vocabulary WORDS.txt OUT.fst".into());
    };
    let mut entries: Vec<(String, u64)> = Vec::new();
    for line in std::io::BufReader::new(std::fs::File::open(words)?).lines() {
        let line = line?;
        let (word, flags) = line.split_once('\t').unwrap_or((&line, "0"));
        entries.push((word.to_owned(), flags.parse()?));
    }
    // The FST wants byte order, which Python's sort of Unicode strings need not be.
    entries.sort();
    entries.dedup_by(|a, b| a.0 == b.0);
    let mut builder = fst::MapBuilder::new(BufWriter::new(std::fs::File::create(&out)?))?;
    for (word, flags) in &entries {
        builder.insert(word, *flags)?;
    }
    builder.finish()?;
    let lines = entries;
    println!("{} words into {out}", lines.len());
    Ok(())
}
