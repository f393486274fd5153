//! Serve-time shrinking of the widget's JavaScript: comments, indentation and
//! blank lines go, everything else stays byte for byte. The source in
//! `widget/` stays readable and no build step is needed; gzip does the rest.
//!
//! It is a tokenizer, not a regex: strings, template literals (with nested
//! `${...}`) and regular expression literals are copied untouched, so a `//`
//! inside `"https://..."` is not mistaken for a comment. Line breaks are kept,
//! so automatic semicolon insertion behaves exactly as in the source.

/// Minifies JavaScript source as described in the module docs.
pub fn javascript(src: &str) -> String {
    let mut out = Lines::default();
    let chars: Vec<char> = src.chars().collect();
    let mut nesting = Nesting::default();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '/' if next == Some('*') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    // A comment spanning lines still separates statements.
                    if chars[i] == '\n' {
                        out.newline();
                    }
                    i += 1;
                }
                i += 2;
                // `a/**/b` must not become `ab`.
                out.space();
                continue;
            }
            '/' if out.regex_may_start() => {
                i = copy_regex(&chars, i, &mut out);
                continue;
            }
            '"' | '\'' => {
                i = copy_string(&chars, i, c, &mut out);
                continue;
            }
            '`' => {
                out.push('`');
                i = nesting.template_text(&chars, i + 1, &mut out);
                continue;
            }
            '{' => {
                nesting.depth += 1;
                out.push(c);
            }
            '}' => {
                if nesting.templates.last() == Some(&nesting.depth) {
                    // The end of a `${...}`: back to the template's text.
                    nesting.templates.pop();
                    nesting.depth -= 1;
                    out.push(c);
                    i = nesting.template_text(&chars, i + 1, &mut out);
                    continue;
                }
                nesting.depth = nesting.depth.saturating_sub(1);
                out.push(c);
            }
            '\n' => out.newline(),
            ' ' | '\t' | '\r' => out.space(),
            _ => out.push(c),
        }
        i += 1;
    }
    out.finish()
}

/// Brace depth, and the depth at which each open template literal's `${` started.
#[derive(Default)]
struct Nesting {
    depth: usize,
    templates: Vec<usize>,
}

impl Nesting {
    /// Copies a template literal's text from `from`; when it stops at a `${`,
    /// the expression opens a level. Returns the index to go on from.
    fn template_text(&mut self, chars: &[char], from: usize, out: &mut Lines) -> usize {
        let (end, expr) = copy_template(chars, from, out);
        if expr {
            self.depth += 1;
            self.templates.push(self.depth);
        }
        end
    }
}

/// Copies a quoted string starting at `start` (the quote); returns the index after it.
fn copy_string(chars: &[char], start: usize, quote: char, out: &mut Lines) -> usize {
    out.push(quote);
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        out.push_raw(c);
        i += 1;
        if c == '\\' {
            if let Some(&escaped) = chars.get(i) {
                out.push_raw(escaped);
                i += 1;
            }
        } else if c == quote || c == '\n' {
            break;
        }
    }
    out.after_value();
    i
}

/// Copies template literal text from `i` up to its closing backtick, or up to
/// a `${` (then the expression is tokenized as code until its `}`). Returns the
/// index after what it copied, and whether it stopped at a `${`.
fn copy_template(chars: &[char], mut i: usize, out: &mut Lines) -> (usize, bool) {
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            out.push_raw(c);
            if let Some(&escaped) = chars.get(i + 1) {
                out.push_raw(escaped);
            }
            i += 2;
            continue;
        }
        if c == '`' {
            out.push_raw(c);
            out.after_value();
            return (i + 1, false);
        }
        if c == '$' && chars.get(i + 1) == Some(&'{') {
            out.push_raw('$');
            out.push_raw('{');
            out.regex_ok = true;
            return (i + 2, true);
        }
        out.push_raw(c);
        i += 1;
    }
    (i, false)
}

/// Copies a regular expression literal (with its flags); returns the index after it.
fn copy_regex(chars: &[char], start: usize, out: &mut Lines) -> usize {
    out.push('/');
    let mut i = start + 1;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        out.push_raw(c);
        i += 1;
        match c {
            '\\' => {
                if let Some(&escaped) = chars.get(i) {
                    out.push_raw(escaped);
                    i += 1;
                }
            }
            '[' => in_class = true,
            ']' => in_class = false,
            '/' if !in_class => break,
            '\n' => break,
            _ => {}
        }
    }
    while i < chars.len() && chars[i].is_ascii_alphabetic() {
        out.push_raw(chars[i]);
        i += 1;
    }
    out.after_value();
    i
}

/// The output, built line by line: no leading or trailing blanks, no empty lines,
/// runs of blanks inside a line reduced to one.
#[derive(Default)]
struct Lines {
    text: String,
    /// A blank was seen since the last character written on this line.
    pending_space: bool,
    /// Whether a `/` here would start a regular expression (not divide).
    regex_ok: bool,
    started: bool,
}

impl Lines {
    fn push(&mut self, c: char) {
        if self.pending_space && self.line_has_text() && self.needs_space(c) {
            self.text.push(' ');
        }
        self.pending_space = false;
        self.text.push(c);
        self.started = true;
        // After an operator or an opening bracket, `/` starts a regex; after a
        // value (name, number, closing bracket) it divides. A keyword such as
        // `return` before a regex is not supported, and not used in the widget.
        self.regex_ok = !(c.is_alphanumeric() || matches!(c, '_' | '$' | ')' | ']' | '}'));
    }

    /// A blank between two tokens matters only between two words (`const a`)
    /// or where dropping it would make a new operator (`a - -b`, `a + ++b`).
    fn needs_space(&self, next: char) -> bool {
        let word = |c: char| c.is_alphanumeric() || matches!(c, '_' | '$') || !c.is_ascii();
        match self.text.chars().next_back() {
            Some(prev) => {
                (word(prev) && word(next)) || (prev == next && matches!(next, '+' | '-' | '/'))
            }
            None => false,
        }
    }

    /// Inside a string, template or regex: written exactly as in the source.
    fn push_raw(&mut self, c: char) {
        self.text.push(c);
    }

    fn after_value(&mut self) {
        self.regex_ok = false;
    }

    fn regex_may_start(&self) -> bool {
        !self.started || self.regex_ok || !self.line_has_text()
    }

    fn space(&mut self) {
        self.pending_space = true;
    }

    fn newline(&mut self) {
        self.pending_space = false;
        // After `{`, `;` or `,` a line break cannot end a statement: joining
        // the lines is safe. Elsewhere it is kept for semicolon insertion.
        if self.line_has_text() && !self.text.ends_with(['{', ';', ',']) {
            self.text.push('\n');
        }
        self.regex_ok = true;
    }

    fn line_has_text(&self) -> bool {
        !self.text.is_empty() && !self.text.ends_with('\n')
    }

    fn finish(mut self) -> String {
        if !self.text.ends_with('\n') {
            self.text.push('\n');
        }
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::javascript;

    #[test]
    fn comments_and_indentation_go() {
        let src = "/*! header\n * more\n */\n(() => {\n  // a comment\n  const a = 1; // trailing\n\n\n  return a /* inline */ + 2;\n})();\n";
        assert_eq!(javascript(src), "(()=>{const a=1;return a+2;})();\n");
    }

    #[test]
    fn strings_templates_and_regexes_are_untouched() {
        let src = "const u = \"https://x.example/a  b\"; // c\nconst s = 'it\\'s // not';\nconst t = `a  // b\n  ${f({ x: `in ${y} ner` })}  /* c */`;\nconst r = /\\/\\/[\"']+/g.test(u);\nconst d = a / b / c;\n";
        let out = javascript(src);
        assert_eq!(
            out,
            "const u=\"https://x.example/a  b\";const s='it\\'s // not';const t=`a  // b\n  ${f({x:`in ${y} ner`})}  /* c */`;const r=/\\/\\/[\"']+/g.test(u);const d=a/b/c;\n"
        );
    }

    #[test]
    fn regex_after_operators_and_at_line_start() {
        assert_eq!(javascript("x = s.split(/ +/);\n"), "x=s.split(/ +/);\n");
        assert_eq!(
            javascript("if (/a\\/\\/b/.test(s)) f();\n"),
            "if(/a\\/\\/b/.test(s))f();\n"
        );
        assert_eq!(javascript("  a = [1, /[/]/];\n"), "a=[1,/[/]/];\n");
    }

    #[test]
    fn blanks_stay_where_they_matter() {
        assert_eq!(
            javascript("const x = a - -b + +c;\n"),
            "const x=a- -b+ +c;\n"
        );
        assert_eq!(
            javascript("return typeof x === \"y\" ? a : b;\n"),
            "return typeof x===\"y\"?a:b;\n"
        );
        assert_eq!(javascript("let é = 1;\n"), "let é=1;\n");
        // No semicolon: the line break stays.
        assert_eq!(javascript("a = b\n(c)\n"), "a=b\n(c)\n");
    }

    #[test]
    fn the_widget_source_shrinks() {
        let src = super::super::bundle::join().unwrap().core;
        let out = javascript(&src);
        assert!(
            out.len() < src.len() * 9 / 10,
            "{} -> {}",
            src.len(),
            out.len()
        );
        assert!(!out.contains("\n "), "no indentation left");
    }
}
