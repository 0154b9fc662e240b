fn main() {
    let texts: Vec<String> = std::fs::read_to_string("/tmp/in.jsonl")
        .unwrap()
        .lines()
        .map(|l| serde_json_lite(l))
        .collect();
    let keep = ["jellyfin"];
    let s = scrub::Scrubber::keeping(&keep);
    let mut worst: Vec<(f64, usize, String)> = Vec::new();
    let t0 = std::time::Instant::now();
    for (i, t) in texts.iter().enumerate() {
        let a = std::time::Instant::now();
        for _ in 0..1 {
            std::hint::black_box(s.scrub_text(t, 120));
        }
        worst.push((
            a.elapsed().as_secs_f64() * 1e6 / 1.0,
            i,
            t.chars().take(60).collect(),
        ));
    }
    let total = t0.elapsed().as_secs_f64();
    worst.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
    let n = worst.len();
    let long: Vec<f64> = worst
        .iter()
        .filter(|w| texts[w.1].len() >= 500)
        .map(|w| w.0)
        .collect();
    println!(
        "total {:.2} s for {} texts; mean {:.1} us; p50 {:.1} p90 {:.1} p99 {:.1}; texts >= 500 B: {} mean {:.1} us",
        total,
        n,
        total * 1e6 / n as f64,
        worst[n / 2].0,
        worst[n / 10].0,
        worst[n / 100].0,
        long.len(),
        long.iter().sum::<f64>() / long.len() as f64
    );
    for w in worst.iter().take(5) {
        println!("{:.0} us len {} {:?}", w.0, texts[w.1].len(), w.2);
    }
}
// The texts are JSON strings; decode the escapes Python wrote.
fn serde_json_lite(l: &str) -> String {
    let mut out = String::new();
    let b: Vec<char> = l[1..l.len() - 1].chars().collect();
    let mut i = 0;
    while i < b.len() {
        if b[i] == '\\' {
            i += 1;
            match b[i] {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                '/' => out.push('/'),
                'u' => {
                    let h: String = b[i + 1..i + 5].iter().collect();
                    let mut cp = u32::from_str_radix(&h, 16).unwrap();
                    i += 4;
                    if (0xD800..0xDC00).contains(&cp)
                        && b.get(i + 1) == Some(&'\\')
                        && b.get(i + 2) == Some(&'u')
                    {
                        let lo: String = b[i + 3..i + 7].iter().collect();
                        let lo = u32::from_str_radix(&lo, 16).unwrap();
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        i += 6;
                    }
                    out.push(char::from_u32(cp).unwrap_or('?'));
                }
                c => out.push(c),
            }
        } else {
            out.push(b[i]);
        }
        i += 1;
    }
    out
}
