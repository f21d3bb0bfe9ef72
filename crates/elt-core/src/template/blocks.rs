//! Finding top-level Jinja blocks in a file without rendering it: `{% macro %}`, `{% test %}`,
//! `{% docs %}`, `{% snapshot %}` and `{% materialization %}`.
//!
//! Each block is cut out with its line number kept: its text is prefixed with as many newlines
//! as precede it, so that errors raised while compiling or rendering it name the real line.

/// A top-level block found in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// `macro`, `test`, `docs`, `snapshot` or `materialization`.
    pub kind: String,
    /// The block's name (`my_macro` in `{% macro my_macro(a, b) %}`).
    pub name: String,
    /// 1-based line of the opening tag.
    pub line: u32,
    /// The whole block, opening and closing tag included.
    pub full: String,
    /// The text between the opening and closing tags.
    pub body: String,
    /// Line of the first character of `body`.
    pub body_line: u32,
}

/// A block that is opened and never closed, or a tag we cannot read.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockError {
    pub message: String,
    pub help: String,
    pub line: u32,
    pub col: u32,
}

const BLOCK_KINDS: &[&str] = &["macro", "test", "docs", "snapshot", "materialization"];

/// A `{% ... %}` tag at `start..end` (byte offsets of `{%` and just after `%}`).
struct Tag<'a> {
    start: usize,
    end: usize,
    /// The words inside the tag, e.g. `macro my_macro(a, b)`.
    inner: &'a str,
}

fn next_tag(text: &str, from: usize) -> Result<Option<Tag<'_>>, BlockError> {
    let mut pos = from;
    loop {
        let Some(offset) = text[pos..].find('{') else {
            return Ok(None);
        };
        let start = pos + offset;
        let rest = &text[start..];
        if rest.starts_with("{#") {
            pos = match rest.find("#}") {
                Some(end) => start + end + 2,
                None => return Err(unclosed(text, start, "comment", "close it with #}")),
            };
        } else if rest.starts_with("{%") {
            let Some(close) = rest.find("%}") else {
                return Err(unclosed(text, start, "tag", "close it with %}"));
            };
            let inner =
                rest[2..close].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
            if inner == "raw" {
                pos = skip_raw(text, start + close + 2)?;
                continue;
            }
            return Ok(Some(Tag {
                start,
                end: start + close + 2,
                inner,
            }));
        } else {
            pos = start + 1;
        }
    }
}

fn skip_raw(text: &str, from: usize) -> Result<usize, BlockError> {
    let mut pos = from;
    while let Some(offset) = text[pos..].find("{%") {
        let start = pos + offset;
        let close = text[start..]
            .find("%}")
            .map(|c| start + c + 2)
            .unwrap_or(text.len());
        let inner = text[start + 2..close.saturating_sub(2)]
            .trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        if inner == "endraw" {
            return Ok(close);
        }
        pos = close;
    }
    Err(unclosed(
        text,
        from,
        "raw block",
        "close it with {% endraw %}",
    ))
}

fn unclosed(text: &str, offset: usize, what: &str, help: &str) -> BlockError {
    let (line, col) = crate::diagnostics::line_col(text, offset);
    BlockError {
        message: format!("unclosed {what}"),
        help: help.into(),
        line,
        col,
    }
}

fn first_word(inner: &str) -> &str {
    inner
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
}

/// Finds the top-level blocks of the given kinds (see [`BLOCK_KINDS`]).
pub fn find_blocks(text: &str, kinds: &[&str]) -> Result<Vec<Block>, BlockError> {
    let mut blocks = Vec::new();
    let mut pos = 0;
    while let Some(tag) = next_tag(text, pos)? {
        pos = tag.end;
        let kind = first_word(tag.inner);
        if !BLOCK_KINDS.contains(&kind) {
            continue;
        }
        let name = read_name(tag.inner[kind.len()..].trim_start());
        let (line, col) = crate::diagnostics::line_col(text, tag.start);
        if name.is_empty() {
            return Err(BlockError {
                message: format!("{{% {kind} %}} block without a name"),
                help: format!("write {{% {kind} my_name %}}"),
                line,
                col,
            });
        }
        let end_word = format!("end{kind}");
        let mut depth = 0;
        let mut end = None;
        let mut search = tag.end;
        while let Some(inner_tag) = next_tag(text, search)? {
            search = inner_tag.end;
            let word = first_word(inner_tag.inner);
            if word == kind {
                depth += 1;
            } else if word == end_word {
                if depth == 0 {
                    end = Some(inner_tag);
                    break;
                }
                depth -= 1;
            }
        }
        let Some(end_tag) = end else {
            return Err(BlockError {
                message: format!("{kind} '{name}' is never closed"),
                help: format!("add {{% {end_word} %}} at the end of the block"),
                line,
                col,
            });
        };
        pos = end_tag.end;
        if kinds.contains(&kind) {
            let body_line = crate::diagnostics::line_col(text, tag.end).0;
            blocks.push(Block {
                kind: kind.to_string(),
                name,
                line,
                full: text[tag.start..end_tag.end].to_string(),
                body: text[tag.end..end_tag.start].to_string(),
                body_line,
            });
        }
    }
    Ok(blocks)
}

fn read_name(rest: &str) -> String {
    rest.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
        .collect()
}

/// `text` preceded by `line - 1` newlines, so that line numbers match the original file.
pub fn at_line(text: &str, line: u32) -> String {
    let mut out = "\n".repeat(line.saturating_sub(1) as usize);
    out.push_str(text);
    out
}

/// A `{% test name(args) %}...{% endtest %}` block rewritten as the macro `test_name`.
pub fn test_as_macro(block: &Block) -> String {
    let open_end = block.full.len() - block.body.len() - closing_len(&block.full);
    let open = &block.full[..open_end];
    let close = &block.full[open_end + block.body.len()..];
    let open =
        open.replacen("test", "macro", 1)
            .replacen(&block.name, &format!("test_{}", block.name), 1);
    let close = close.replacen("endtest", "endmacro", 1);
    format!("{open}{}{close}", block.body)
}

fn closing_len(full: &str) -> usize {
    full.len() - full.rfind("{%").unwrap_or(full.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_macros_tests_and_skips_comments_and_raw() {
        let text = "{# {% macro hidden() %} #}\n{% raw %}{% macro raw_one() %}{% endraw %}\n{% macro a(x) -%}\n{{ x }}\n{%- endmacro %}\n\n{%- test positive(model, column_name) %}\nselect 1\n{% endtest %}\n";
        let blocks = find_blocks(text, &["macro", "test"]).unwrap();
        let names: Vec<_> = blocks
            .iter()
            .map(|b| (b.kind.as_str(), b.name.as_str(), b.line))
            .collect();
        assert_eq!(names, [("macro", "a", 3), ("test", "positive", 7)]);
        assert_eq!(
            test_as_macro(&blocks[1]),
            "{%- macro test_positive(model, column_name) %}\nselect 1\n{% endmacro %}"
        );
        assert_eq!(blocks[0].body_line, 3);
    }

    #[test]
    fn unclosed_macro_is_an_error_with_line() {
        let err = find_blocks("\n{% macro a() %}\nselect 1\n", &["macro"]).unwrap_err();
        assert_eq!(
            (err.line, err.message.as_str()),
            (2, "macro 'a' is never closed")
        );
    }

    #[test]
    fn docs_blocks() {
        let blocks =
            find_blocks("{% docs orders %}\nAll orders.\n{% enddocs %}", &["docs"]).unwrap();
        assert_eq!(blocks[0].body.trim(), "All orders.");
    }
}
