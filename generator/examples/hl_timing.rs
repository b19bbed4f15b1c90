//! Times syntax highlighting of one snippet per language, for profiling.
fn main() {
    let rust = "use std::collections::HashMap;\n\nfn count_words(text: &str) -> HashMap<&str, usize> {\n    let mut counts = HashMap::new();\n    for word in text.split_whitespace() {\n        *counts.entry(word).or_insert(0) += 1;\n    }\n    counts\n}\n\nfn main() {\n    let counts = count_words(\"a b a c b a\");\n    println!(\"{counts:?}\");\n}\n";
    let py = "import collections\n\ndef count_words(text):\n    counts = collections.Counter()\n    for word in text.split():\n        counts[word] += 1\n    return counts\n\nif __name__ == '__main__':\n    print(count_words('a b a c b a'))\n";
    let js = "function countWords(text) {\n  const counts = new Map();\n  for (const word of text.split(/\\s+/)) {\n    counts.set(word, (counts.get(word) || 0) + 1);\n  }\n  return counts;\n}\nconsole.log(countWords('a b a c b a'));\n";
    let toml = "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde = { version = \"1\", features = [\"derive\"] }\n";
    let h = kiln::highlight::Highlighter::with_default_themes().unwrap();
    for (lang, code) in [("rust", rust), ("python", py), ("js", js), ("toml", toml)] {
        h.highlight(code, Some(lang));
        let n = 200;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(h.highlight(code, Some(lang)));
        }
        let lines = code.lines().count() as u32;
        println!("{lang}: {:?} per block, {:?} per line", t.elapsed() / n, t.elapsed() / n / lines);
    }
}
