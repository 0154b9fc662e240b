//! docs/analysts.md read as data: its cookbook of queries and its schema reference, and
//! the analysts' limits from the users file; for the tests that hold the document to the
//! database, and for `bench analysts`, which runs the cookbook over a year.

use crate::workspace_root;

/// The document, as the tests and the bench read it.
pub fn document() -> String {
    std::fs::read_to_string(workspace_root().join("docs/analysts.md")).expect("docs/analysts.md")
}

/// The cookbook's queries: (id, SQL), in the document's order. Each is a ```sql block of
/// the "Cookbook" section whose first line is `-- cookbook: <id>`.
pub fn cookbook(doc: &str) -> Vec<(String, String)> {
    let section = doc
        .split("\n## Cookbook\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Cookbook section");
    let mut out = Vec::new();
    let mut block: Option<Vec<&str>> = None;
    for line in section.lines() {
        match (&mut block, line) {
            (None, "```sql") => block = Some(Vec::new()),
            (Some(lines), "```") => {
                let sql = lines.join("\n");
                let id = lines
                    .first()
                    .and_then(|l| l.strip_prefix("-- cookbook: "))
                    .unwrap_or_else(|| panic!("a query without its id:\n{sql}"))
                    .to_owned();
                out.push((id, sql));
                block = None;
            }
            (Some(lines), l) => lines.push(l),
            _ => {}
        }
    }
    out
}

/// The schema reference's table of `relation`: (column, type), in order.
pub fn documented(doc: &str, relation: &str) -> Vec<(String, String)> {
    let reference = doc
        .split("\n## Schema reference\n")
        .nth(1)
        .expect("a Schema reference section");
    let heading = format!("### `{relation}`\n");
    let section = reference
        .split(&heading)
        .nth(1)
        .unwrap_or_else(|| panic!("no section for {relation}"))
        .split("\n### ")
        .next()
        .unwrap_or_default();
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                cells[1].trim_matches('`').to_owned(),
                cells[2].trim_matches('`').to_owned(),
            )
        })
        .collect()
}

/// The settings of a profile of compose/clickhouse/users.d/telemetry.xml, without
/// `readonly` and the constraints: (name, value). What `bench analysts` runs the
/// cookbook under, as the analyst's login would.
pub fn profile_settings(profile: &str) -> Vec<(String, String)> {
    let users =
        std::fs::read_to_string(workspace_root().join("compose/clickhouse/users.d/telemetry.xml"))
            .expect("the users file");
    let block = users
        .split(&format!("<{profile}>"))
        .nth(1)
        .and_then(|b| b.split(&format!("</{profile}>")).next())
        .unwrap_or_else(|| panic!("no profile {profile}"));
    let block = block.split("<constraints>").next().unwrap_or_default();
    block
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            let name = l.strip_prefix('<')?.split('>').next()?;
            let value = l
                .strip_prefix(&format!("<{name}>"))?
                .strip_suffix(&format!("</{name}>"))?;
            (name != "readonly").then(|| (name.to_owned(), value.to_owned()))
        })
        .collect()
}
