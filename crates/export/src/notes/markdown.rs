//! A note's text and attribute runs as CommonMark (with GitHub's `~~strikethrough~~` and
//! `- [x]` task items).
//!
//! Each Notes paragraph (text up to a newline) becomes one Markdown line, styled by its
//! paragraph style: title `#`, heading `##`, subheading `###`, monospaced lines in a fenced
//! code block, dotted and dashed lists `*` and `-`, numbered lists `1.`, checklists `- [ ]` /
//! `- [x]`, block quotes `>`, nested by the indent level (four spaces a level). Consecutive
//! body lines keep their line breaks (two trailing spaces, CommonMark's hard break); blocks of
//! different kinds are set apart by a blank line. Bold, italic, strikethrough and links are
//! marked inline; underline has no Markdown and is dropped. Text is escaped so that it reads
//! as written. An attachment (U+FFFC) becomes what the caller says (its name, a hashtag's
//! text), else `[attachment]`.

use super::proto::{AttachmentRef, NoteBody, Paragraph, Run, Style};
use std::collections::BTreeMap;

const OBJECT_REPLACEMENT: char = '\u{FFFC}';
const LINE_SEPARATOR: char = '\u{2028}';

/// One piece of a paragraph with one run's style.
struct Piece<'b> {
    text: String,
    run: &'b Run,
}

#[derive(Default)]
struct Para<'b> {
    pieces: Vec<Piece<'b>>,
    /// The style of the paragraph's first character, else of its newline.
    style: Option<&'b Paragraph>,
}

impl Para<'_> {
    fn plain(&self) -> String {
        self.pieces.iter().map(|p| p.text.as_str()).collect()
    }
}

/// What kind of Markdown block a line is part of (blank lines go between different kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Heading,
    Text,
    List,
    Quote,
    Code,
}

/// Renders `body` as Markdown. The first paragraph is left out when it is `title` (Notes
/// titles a note by its first line; the caller writes the title as the page's heading).
/// `attachment` names what an attachment shows as.
pub fn render(
    body: &NoteBody,
    title: Option<&str>,
    attachment: &dyn Fn(&AttachmentRef) -> Option<String>,
) -> String {
    let default_run = Run::default();
    let mut paras = paragraphs(body, &default_run);
    if let (Some(first), Some(title)) = (paras.first(), title)
        && first.plain().trim() == title.trim()
    {
        paras.remove(0);
    }
    while paras.first().is_some_and(|p| p.plain().trim().is_empty()) {
        paras.remove(0);
    }
    while paras.last().is_some_and(|p| p.plain().trim().is_empty()) {
        paras.pop();
    }
    let mut w = Writer::default();
    for para in &paras {
        w.paragraph(para, attachment);
    }
    w.finish()
}

/// Splits the text into paragraphs of styled pieces. Run lengths count UTF-16 units; text past
/// the last run has the default style, runs past the text are cut.
fn paragraphs<'b>(body: &'b NoteBody, default_run: &'b Run) -> Vec<Para<'b>> {
    let units: Vec<u16> = body.text.encode_utf16().collect();
    let mut segments: Vec<(&[u16], &Run)> = Vec::new();
    let mut at = 0usize;
    for run in &body.runs {
        if at >= units.len() {
            break;
        }
        let len = usize::try_from(run.len).unwrap_or(usize::MAX);
        let end = at.saturating_add(len).min(units.len());
        segments.push((&units[at..end], run));
        at = end;
    }
    if at < units.len() {
        segments.push((&units[at..], default_run));
    }
    let mut paras = vec![Para::default()];
    for (units, run) in segments {
        let text = String::from_utf16_lossy(units);
        for (i, part) in text.split('\n').enumerate() {
            if i > 0 {
                let done = paras.last_mut().expect("never empty");
                done.style.get_or_insert(&run.paragraph);
                paras.push(Para::default());
            }
            if !part.is_empty() {
                let cur = paras.last_mut().expect("never empty");
                cur.style.get_or_insert(&run.paragraph);
                cur.pieces.push(Piece {
                    text: part.to_string(),
                    run,
                });
            }
        }
    }
    paras
}

#[derive(Default)]
struct Writer {
    out: String,
    /// The block the last written line belongs to; `None` after a blank line.
    last: Option<Block>,
    /// Open fenced code block: its lines.
    code: Vec<String>,
    /// Numbered-list counters by indent level.
    numbers: BTreeMap<u64, u64>,
}

impl Writer {
    fn paragraph(
        &mut self,
        para: &Para<'_>,
        attachment: &dyn Fn(&AttachmentRef) -> Option<String>,
    ) {
        let default = Paragraph::default();
        let style = para.style.unwrap_or(&default);
        if style.style == Style::Monospaced {
            self.code.push(code_text(para, attachment));
            return;
        }
        self.flush_code();
        let content = inline(para, attachment);
        if content.trim().is_empty() {
            if self.last.is_some() {
                self.out.push('\n');
            }
            self.last = None;
            self.numbers.clear();
            return;
        }
        let indent = "    ".repeat(usize::try_from(style.indent.min(8)).unwrap_or(0));
        let (block, prefix) = match style.style {
            Style::Title => (Block::Heading, "# ".to_string()),
            Style::Heading => (Block::Heading, "## ".to_string()),
            Style::Subheading => (Block::Heading, "### ".to_string()),
            Style::Dotted => (Block::List, format!("{indent}* ")),
            Style::Dashed => (Block::List, format!("{indent}- ")),
            Style::Checklist { done } => (
                Block::List,
                format!("{indent}- [{}] ", if done { 'x' } else { ' ' }),
            ),
            Style::Numbered => {
                self.numbers.retain(|&level, _| level <= style.indent);
                let n = self.numbers.entry(style.indent).or_insert(0);
                *n += 1;
                (Block::List, format!("{indent}{n}. "))
            }
            Style::Body | Style::Monospaced if style.block_quote => (Block::Quote, "> ".into()),
            Style::Body | Style::Monospaced => (Block::Text, String::new()),
        };
        if block != Block::List {
            self.numbers.clear();
        }
        let content = match block {
            Block::Text | Block::Quote => escape_line_start(&content),
            _ => content,
        };
        match self.last {
            Some(Block::Text) if block == Block::Text => {
                self.out.insert_str(self.out.len() - 1, "  ")
            }
            Some(Block::Quote) if block == Block::Quote => {
                self.out.insert_str(self.out.len() - 1, "  ")
            }
            Some(last) if last != block || block == Block::Heading => self.out.push('\n'),
            _ => {}
        }
        // Line separators inside a paragraph are hard breaks, continued under the marker.
        let continuation = match block {
            Block::Quote => "> ".to_string(),
            Block::List => " ".repeat(prefix.chars().count()),
            _ => String::new(),
        };
        let content = content.replace(LINE_SEPARATOR, &format!("  \n{continuation}"));
        self.out.push_str(&prefix);
        self.out.push_str(content.trim_end());
        self.out.push('\n');
        self.last = Some(block);
    }

    fn flush_code(&mut self) {
        if self.code.is_empty() {
            return;
        }
        if self.last.is_some() {
            self.out.push('\n');
        }
        let longest = self
            .code
            .iter()
            .map(|l| longest_backtick_run(l))
            .max()
            .unwrap_or(0);
        let fence = "`".repeat(longest.max(2) + 1);
        self.out.push_str(&fence);
        self.out.push('\n');
        for line in self.code.drain(..) {
            self.out.push_str(&line);
            self.out.push('\n');
        }
        self.out.push_str(&fence);
        self.out.push('\n');
        self.last = Some(Block::Code);
        self.numbers.clear();
    }

    fn finish(mut self) -> String {
        self.flush_code();
        self.out
    }
}

/// A monospaced paragraph's text as is (no escaping inside a fence).
fn code_text(para: &Para<'_>, attachment: &dyn Fn(&AttachmentRef) -> Option<String>) -> String {
    para.pieces
        .iter()
        .map(|p| replace_attachments(&p.text, p.run, attachment, false))
        .collect::<String>()
        .replace(LINE_SEPARATOR, "\n")
}

fn longest_backtick_run(line: &str) -> usize {
    line.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// The inline styles a piece is marked with.
#[derive(PartialEq, Eq)]
struct Inline<'r> {
    bold: bool,
    italic: bool,
    strike: bool,
    link: Option<&'r str>,
}

impl<'r> Inline<'r> {
    fn of(run: &'r Run) -> Self {
        Self {
            bold: run.bold,
            italic: run.italic,
            strike: run.strikethrough,
            link: run.link.as_deref().filter(|l| !l.is_empty()),
        }
    }
}

/// A paragraph's pieces, escaped and marked, pieces of one style together.
fn inline(para: &Para<'_>, attachment: &dyn Fn(&AttachmentRef) -> Option<String>) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < para.pieces.len() {
        let style = Inline::of(para.pieces[i].run);
        let mut text = String::new();
        while i < para.pieces.len() && Inline::of(para.pieces[i].run) == style {
            let p = &para.pieces[i];
            text.push_str(&replace_attachments(&p.text, p.run, attachment, true));
            i += 1;
        }
        out.push_str(&mark(&text, &style));
    }
    out
}

/// `text` (already escaped) inside the markers of `style`; surrounding spaces stay outside,
/// where CommonMark needs them.
fn mark(text: &str, style: &Inline<'_>) -> String {
    let core = text.trim_matches(|c: char| c == ' ' || c == '\t');
    if core.is_empty() {
        return text.to_string();
    }
    let start = text.len() - text.trim_start_matches([' ', '\t']).len();
    let (lead, trail) = (&text[..start], &text[start + core.len()..]);
    let stars = match (style.bold, style.italic) {
        (true, true) => "***",
        (true, false) => "**",
        (false, true) => "*",
        (false, false) => "",
    };
    let tilde = if style.strike { "~~" } else { "" };
    let mut marked = format!("{tilde}{stars}{core}{stars}{tilde}");
    if let Some(link) = style.link {
        marked = format!("[{marked}](<{}>)", link_target(link));
    }
    format!("{lead}{marked}{trail}")
}

/// A URL as a CommonMark `<...>` destination: no spaces, angle brackets or line breaks.
fn link_target(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `text` with U+FFFC replaced by what its attachment shows as; escaped for Markdown when
/// `escaped`.
fn replace_attachments(
    text: &str,
    run: &Run,
    attachment: &dyn Fn(&AttachmentRef) -> Option<String>,
    escaped: bool,
) -> String {
    let esc = |s: &str| match escaped {
        true => escape(s),
        false => s.to_string(),
    };
    let mut out = String::with_capacity(text.len());
    for (i, part) in text.split(OBJECT_REPLACEMENT).enumerate() {
        if i > 0 {
            let shown = run.attachment.as_ref().and_then(attachment);
            out.push_str(&match shown {
                Some(s) => esc(&s),
                None => "[attachment]".to_string(),
            });
        }
        out.push_str(&esc(part));
    }
    out
}

/// Escapes the characters that would mark up inline text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '~' | '|'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escapes what would make a body line a heading, a list item or a quote.
fn escape_line_start(line: &str) -> String {
    let trimmed = line.trim_start_matches(' ');
    let lead = &line[..line.len() - trimmed.len()];
    if trimmed.starts_with(['#', '-', '+', '=']) {
        return format!("{lead}\\{trimmed}");
    }
    let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
    if digits > 0
        && let Some(rest) = trimmed.get(digits..)
        && rest.starts_with(['.', ')'])
    {
        return format!("{lead}{}\\{rest}", &trimmed[..digits]);
    }
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::super::proto::{NoteBody, Paragraph, Run, Style};
    use super::*;

    fn run(len: usize, style: Style) -> Run {
        Run {
            len: len as u64,
            paragraph: Paragraph {
                style,
                ..Paragraph::default()
            },
            ..Run::default()
        }
    }

    fn body(parts: &[(&str, Run)]) -> NoteBody {
        let mut text = String::new();
        let mut runs = Vec::new();
        for (t, r) in parts {
            text.push_str(t);
            runs.push(Run {
                len: t.encode_utf16().count() as u64,
                ..r.clone()
            });
        }
        NoteBody { text, runs }
    }

    fn none(_: &AttachmentRef) -> Option<String> {
        None
    }

    #[test]
    fn styles_become_markdown_blocks() {
        let b = body(&[
            ("Groceries\n", run(0, Style::Title)),
            ("For the weekend\n", run(0, Style::Heading)),
            ("Milk\n", run(0, Style::Checklist { done: true })),
            ("Eggs\n", run(0, Style::Checklist { done: false })),
            ("one\n", run(0, Style::Numbered)),
            ("two\n", run(0, Style::Numbered)),
            ("plain line\n", run(0, Style::Body)),
            ("second line\n", run(0, Style::Body)),
            ("let x = 1;\n", run(0, Style::Monospaced)),
            ("x += 1;\n", run(0, Style::Monospaced)),
            ("dot\n", run(0, Style::Dotted)),
            ("dash", run(0, Style::Dashed)),
        ]);
        let md = render(&b, Some("Groceries"), &none);
        assert_eq!(
            md,
            "## For the weekend\n\n- [x] Milk\n- [ ] Eggs\n1. one\n2. two\n\nplain line  \nsecond line\n\n```\nlet x = 1;\nx += 1;\n```\n\n* dot\n- dash\n"
        );
    }

    #[test]
    fn inline_styles_and_links_are_marked_and_text_escaped() {
        let bold = Run {
            bold: true,
            ..Run::default()
        };
        let link = Run {
            link: Some("https://example.com/a b".into()),
            ..Run::default()
        };
        let strike = Run {
            strikethrough: true,
            italic: true,
            ..Run::default()
        };
        let b = body(&[
            ("Say ", Run::default()),
            ("bold ", bold),
            ("and ", Run::default()),
            ("this", link),
            (" or ", Run::default()),
            ("not", strike),
            (" *literally* 2_3 [x]", Run::default()),
        ]);
        assert_eq!(
            render(&b, None, &none),
            "Say **bold** and [this](<https://example.com/a%20b>) or ~~*not*~~ \\*literally\\* 2\\_3 \\[x\\]\n"
        );
    }

    #[test]
    fn body_lines_that_look_like_markup_are_escaped() {
        let b = body(&[(
            "# not a heading\n- not a list\n3. not numbered\n",
            Run::default(),
        )]);
        assert_eq!(
            render(&b, None, &none),
            "\\# not a heading  \n\\- not a list  \n3\\. not numbered\n"
        );
    }

    #[test]
    fn attachments_show_as_the_caller_names_them() {
        let att = Run {
            attachment: Some(AttachmentRef {
                identifier: Some("A1".into()),
                type_uti: Some("public.jpeg".into()),
            }),
            ..Run::default()
        };
        let b = body(&[
            ("Photo: ", Run::default()),
            ("\u{FFFC}", att),
            (" and \u{FFFC}", Run::default()),
        ]);
        let named = |a: &AttachmentRef| Some(format!("[{}]", a.type_uti.clone().unwrap()));
        assert_eq!(
            render(&b, None, &named),
            "Photo: \\[public.jpeg\\] and [attachment]\n"
        );
    }

    #[test]
    fn run_lengths_count_utf16_units() {
        // The emoji is two UTF-16 units: the bold run covers it and the space only.
        let b = body(&[
            (
                "\u{1F600} ",
                Run {
                    bold: true,
                    ..Run::default()
                },
            ),
            ("ok", Run::default()),
        ]);
        assert_eq!(render(&b, None, &none), "**\u{1F600}** ok\n");
        // Runs longer than the text are cut; text past the runs is body text.
        let long = NoteBody {
            text: "ab\ncd".into(),
            runs: vec![run(1, Style::Heading), run(500, Style::Body)],
        };
        assert_eq!(render(&long, None, &none), "## ab\n\ncd\n");
        let short = NoteBody {
            text: "ab\ncd".into(),
            runs: vec![run(1, Style::Heading)],
        };
        assert_eq!(render(&short, None, &none), "## ab\n\ncd\n");
    }

    #[test]
    fn empty_lines_separate_paragraphs_once() {
        let b = body(&[("Title\n\n\nText\n\n\n\nMore\n", Run::default())]);
        assert_eq!(render(&b, Some("Title"), &none), "Text\n\nMore\n");
    }

    proptest::proptest! {
        #[test]
        fn any_text_and_runs_render_without_panicking(
            text in "(\\PC|\n|\u{FFFC}|\u{2028}){0,80}",
            runs in proptest::collection::vec((0u64..40, 0usize..9, proptest::bool::ANY, 0u64..3), 0..12),
        ) {
            let styles = [
                Style::Body, Style::Title, Style::Heading, Style::Subheading, Style::Monospaced,
                Style::Dotted, Style::Dashed, Style::Numbered, Style::Checklist { done: true },
            ];
            let runs = runs
                .into_iter()
                .map(|(len, style, bold, indent)| Run {
                    len,
                    bold,
                    paragraph: Paragraph { style: styles[style], indent, block_quote: indent == 2 },
                    attachment: (len % 3 == 0).then(AttachmentRef::default),
                    link: (len % 5 == 0).then(|| "https://example.com/<x>".to_string()),
                    ..Run::default()
                })
                .collect();
            let md = render(&NoteBody { text, runs }, Some("t"), &|_| Some("[a]".into()));
            proptest::prop_assert!(md.is_empty() || md.ends_with('\n'));
        }
    }

    #[test]
    fn fences_outgrow_the_backticks_inside() {
        let b = body(&[("a ``` b\n", run(0, Style::Monospaced))]);
        assert_eq!(render(&b, None, &none), "````\na ``` b\n````\n");
    }
}
