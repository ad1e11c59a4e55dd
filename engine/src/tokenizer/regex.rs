//! llama.cpp's generic pre-tokenizer path: the regular expressions it has no hand-written
//! splitter for, which `unicode_regex_split` (unicode.cpp) runs through C++'s std::regex
//! (ECMAScript, libstdc++'s backtracking executor) with `regex_iterator`. Mirrored here for the
//! subset of the language those expressions use: character sets, `\s`, `\p{..}`, literals,
//! greedy `?`, `*`, `+` and `{n,m}`, and `$`. Anything else (groups, alternation, lookaround)
//! is refused when the expression is compiled, so an expression is either run exactly or not
//! at all.
//!
//! std::regex knows no Unicode categories, so llama.cpp does not run it on the text itself:
//! - An expression that names a category (`\p{L}` ...) runs over a "collapsed" copy of the text
//!   in which every code point from U+0080 on is one byte: 0x0B for whitespace, 0xD1 number,
//!   0xD2 letter, 0xD3 punctuation, 0xD4 mark, 0xD5 symbol, 0xD0 anything else; and each
//!   `\p{..}` becomes that byte plus the ASCII characters of the category (`\p{L}`: `A-Za-z`).
//!   Such an expression may not contain non-ASCII characters.
//! - Any other expression runs over the code points (std::wregex), with non-ASCII whitespace
//!   replaced by 0x0B, because std::wregex's `\s` knows only ASCII whitespace.
//!
//! Either way `\s` is the "C" locale's: tab, line feed, vertical tab, form feed, carriage return
//! and space (checked against libstdc++ for every code point).

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// What llama.cpp puts in the collapsed text for whitespace from U+0080 on (and in the
/// code-point text, for std::wregex).
const WHITESPACE: u32 = 0x0B;

/// A category llama.cpp's expressions may name: the byte that stands for its code points from
/// U+0080 on in the collapsed text, and the ASCII characters it adds for it (`k_ucat_cpt`,
/// `k_ucat_map`).
#[derive(Clone, Copy)]
struct Category {
    byte: u32,
    ascii: &'static [(u8, u8)],
}

const NUMBER: Category = Category {
    byte: 0xD1,
    ascii: &[(b'0', b'9')],
};
const LETTER: Category = Category {
    byte: 0xD2,
    ascii: &[(b'A', b'Z'), (b'a', b'z')],
};
const PUNCTUATION: Category = Category {
    byte: 0xD3,
    ascii: &[
        (b'!', b'#'),
        (b'%', b'*'),
        (b',', b'/'),
        (b':', b';'),
        (b'?', b'@'),
        (b'[', b']'),
        (b'_', b'_'),
        (b'{', b'{'),
        (b'}', b'}'),
    ],
};
const MARK: Category = Category {
    byte: 0xD4,
    ascii: &[],
};
const SYMBOL: Category = Category {
    byte: 0xD5,
    ascii: &[
        (b'$', b'$'),
        (b'+', b'+'),
        (b'<', b'>'),
        (b'^', b'^'),
        (b'`', b'`'),
        (b'|', b'|'),
        (b'~', b'~'),
    ],
};
/// The collapsed byte of a code point in none of the categories above (controls, format
/// characters, unassigned ...).
const OTHER: u32 = 0xD0;

/// The category names llama.cpp rewrites (`k_ucat_enum`); the letter subcategories all become
/// the whole letter category, as they do there.
const CATEGORIES: [(&str, Category); 10] = [
    ("\\p{N}", NUMBER),
    ("\\p{L}", LETTER),
    ("\\p{P}", PUNCTUATION),
    ("\\p{M}", MARK),
    ("\\p{S}", SYMBOL),
    ("\\p{Lu}", LETTER),
    ("\\p{Ll}", LETTER),
    ("\\p{Lt}", LETTER),
    ("\\p{Lm}", LETTER),
    ("\\p{Lo}", LETTER),
];

/// A set of (collapsed or code-point) values: inclusive ranges and `\s`, maybe negated.
#[derive(Clone, Debug, Default)]
struct Set {
    negated: bool,
    ranges: Vec<(u32, u32)>,
    space: bool,
}

impl Set {
    fn literal(c: u32) -> Self {
        Set {
            ranges: vec![(c, c)],
            ..Set::default()
        }
    }

    fn category(&mut self, category: Category) {
        self.ranges.push((category.byte, category.byte));
        let ascii = category.ascii.iter();
        self.ranges
            .extend(ascii.map(|&(a, b)| (u32::from(a), u32::from(b))));
    }

    fn contains(&self, v: u32) -> bool {
        let hit = (self.space && matches!(v, 0x09..=0x0D | 0x20))
            || self.ranges.iter().any(|&(a, b)| a <= v && v <= b);
        hit != self.negated
    }
}

#[derive(Clone, Debug)]
enum Term {
    /// A set repeated `min..=max` times, greedily.
    Repeat { set: Set, min: usize, max: usize },
    /// `$`: the end of the piece being split (no multiline mode).
    End,
}

/// A compiled expression.
#[derive(Clone, Debug)]
pub struct Regex {
    /// Whether it runs over the collapsed text (it names a category).
    collapsed: bool,
    terms: Vec<Term>,
}

impl Regex {
    /// Compiles one of llama.cpp's expressions, or says why it is outside the mirrored subset.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let collapsed = CATEGORIES.iter().any(|(name, _)| pattern.contains(name));
        if collapsed && !pattern.is_ascii() {
            // llama.cpp refuses these too ("both unicode categories and non-ASCII characters").
            return Err(format!("{pattern:?}: categories and non-ASCII characters"));
        }
        let err = |what: &str| format!("{pattern:?}: {what} is not supported");
        let chars: Vec<char> = pattern.chars().collect();
        let mut terms = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let set = match chars[i] {
                '$' => {
                    terms.push(Term::End);
                    i += 1;
                    continue;
                }
                '[' => {
                    let (set, next) = bracket(&chars, i + 1).map_err(|e| err(&e))?;
                    i = next;
                    set
                }
                '\\' => {
                    let (item, next) = escape(&chars, i + 1).map_err(|e| err(&e))?;
                    i = next;
                    match item {
                        Item::Char(c) => Set::literal(c),
                        Item::Class(set) => set,
                    }
                }
                c @ ('(' | ')' | '|' | '.' | '^' | '?' | '*' | '+' | '{' | '}' | ']') => {
                    return Err(err(&format!("'{c}' here")));
                }
                c => {
                    i += 1;
                    Set::literal(c as u32)
                }
            };
            let (min, max, next) = quantifier(&chars, i).map_err(|e| err(&e))?;
            i = next;
            terms.push(Term::Repeat { set, min, max });
        }
        let shortest: usize = terms
            .iter()
            .map(|t| match t {
                Term::Repeat { min, .. } => *min,
                Term::End => 0,
            })
            .sum();
        // regex_iterator's handling of empty matches is not mirrored.
        if shortest == 0 {
            return Err(err("an expression that can match nothing"));
        }
        Ok(Regex { collapsed, terms })
    }

    /// What the expression sees of a code point.
    fn value(&self, c: char) -> u32 {
        let u = c as u32;
        if u < 0x80 {
            return u;
        }
        // llama.cpp's whitespace set is Unicode's White_Space, as `char::is_whitespace`.
        if c.is_whitespace() {
            return WHITESPACE;
        }
        if !self.collapsed {
            return u;
        }
        match c.general_category_group() {
            GeneralCategoryGroup::Number => NUMBER.byte,
            GeneralCategoryGroup::Letter => LETTER.byte,
            GeneralCategoryGroup::Punctuation => PUNCTUATION.byte,
            GeneralCategoryGroup::Mark => MARK.byte,
            GeneralCategoryGroup::Symbol => SYMBOL.byte,
            _ => OTHER,
        }
    }

    /// `text` cut as llama.cpp's `unicode_regex_split_stl` cuts one piece: each match is a
    /// word, and so is each stretch of text between matches.
    pub fn split<'t>(&self, text: &'t str, words: &mut Vec<&'t str>) {
        let mut offsets: Vec<usize> = text.char_indices().map(|(o, _)| o).collect();
        offsets.push(text.len());
        let values: Vec<u32> = text.chars().map(|c| self.value(c)).collect();
        let (mut prev, mut from) = (0, 0);
        while let Some((start, end)) = self.search(&values, from) {
            if start > prev {
                words.push(&text[offsets[prev]..offsets[start]]);
            }
            words.push(&text[offsets[start]..offsets[end]]);
            // Every match is non-empty (see `new`), so the search moves on.
            (prev, from) = (end, end);
        }
        if prev < values.len() {
            words.push(&text[offsets[prev]..]);
        }
    }

    /// The leftmost match starting at or after `from`: ECMAScript's, the first that the
    /// backtracking search finds, trying each start in turn.
    fn search(&self, values: &[u32], from: usize) -> Option<(usize, usize)> {
        let mut start = from;
        while start < values.len() {
            if let Some(end) = self.match_at(values, 0, start) {
                return Some((start, end));
            }
            // A start inside the run of an unbounded first term fails too: the rest is tried
            // at a subset of the same positions. (Keeps `\s+$` linear.)
            let skip = match self.terms.first() {
                Some(Term::Repeat { set, min, max }) if *min > 0 && *max == usize::MAX => values
                    [start..]
                    .iter()
                    .take_while(|&&v| set.contains(v))
                    .count(),
                _ => 0,
            };
            start += skip.max(1);
        }
        None
    }

    /// Where a match of `terms[t..]` from `pos` ends: greedy repeats, longest first.
    fn match_at(&self, values: &[u32], t: usize, pos: usize) -> Option<usize> {
        let Some(term) = self.terms.get(t) else {
            return Some(pos);
        };
        match term {
            Term::End => (pos == values.len())
                .then(|| self.match_at(values, t + 1, pos))
                .flatten(),
            Term::Repeat { set, min, max } => {
                let run = values[pos..]
                    .iter()
                    .take(*max)
                    .take_while(|&&v| set.contains(v))
                    .count();
                (*min..=run)
                    .rev()
                    .find_map(|n| self.match_at(values, t + 1, pos + n))
            }
        }
    }
}

enum Item {
    Char(u32),
    Class(Set),
}

/// The escape after a backslash at `chars[i]`: `\s`, `\p{..}`, a control character, or an
/// escaped ASCII punctuation character standing for itself.
fn escape(chars: &[char], i: usize) -> Result<(Item, usize), String> {
    let c = *chars.get(i).ok_or("a trailing backslash")?;
    let item = match c {
        's' => Item::Class(Set {
            space: true,
            ..Set::default()
        }),
        'p' => {
            let close = chars[i..]
                .iter()
                .position(|&c| c == '}')
                .ok_or("an unclosed \\p{")?;
            let name: String = std::iter::once('\\')
                .chain(chars[i..=i + close].iter().copied())
                .collect();
            let (_, category) = CATEGORIES
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or(format!("category {name}"))?;
            let mut set = Set::default();
            set.category(*category);
            return Ok((Item::Class(set), i + close + 1));
        }
        'r' => Item::Char(0x0D),
        'n' => Item::Char(0x0A),
        't' => Item::Char(0x09),
        c if c.is_ascii_punctuation() => Item::Char(c as u32),
        c => return Err(format!("escape \\{c}")),
    };
    Ok((item, i + 1))
}

/// The bracket expression whose body starts at `chars[i]`, and the position after its `]`.
fn bracket(chars: &[char], mut i: usize) -> Result<(Set, usize), String> {
    let mut set = Set::default();
    if chars.get(i) == Some(&'^') {
        set.negated = true;
        i += 1;
    }
    let item = |i: usize| -> Result<(Item, usize), String> {
        match chars.get(i) {
            Some('\\') => escape(chars, i + 1),
            Some('[') => Err("a nested '['".into()),
            Some(&c) => Ok((Item::Char(c as u32), i + 1)),
            None => Err("an unclosed '['".into()),
        }
    };
    while chars.get(i) != Some(&']') {
        let (first, next) = item(i)?;
        i = next;
        let range_end = chars.get(i) == Some(&'-') && !matches!(chars.get(i + 1), Some(']') | None);
        match first {
            Item::Class(class) => {
                if range_end {
                    return Err("a range from a class".into());
                }
                set.space |= class.space;
                set.ranges.extend(class.ranges);
            }
            Item::Char(a) if range_end => {
                let (last, next) = item(i + 1)?;
                let Item::Char(b) = last else {
                    return Err("a range to a class".into());
                };
                if a > b {
                    return Err("a backwards range".into());
                }
                set.ranges.push((a, b));
                i = next;
            }
            Item::Char(a) => set.ranges.push((a, a)),
        }
    }
    Ok((set, i + 1))
}

/// The quantifier at `chars[i]`, if any: (min, max, position after it). Lazy quantifiers are
/// refused.
fn quantifier(chars: &[char], i: usize) -> Result<(usize, usize, usize), String> {
    let (min, max, next) = match chars.get(i) {
        Some('?') => (0, 1, i + 1),
        Some('*') => (0, usize::MAX, i + 1),
        Some('+') => (1, usize::MAX, i + 1),
        Some('{') => {
            let close = chars[i..]
                .iter()
                .position(|&c| c == '}')
                .ok_or("an unclosed '{'")?;
            let body: String = chars[i + 1..i + close].iter().collect();
            let num = |s: &str| s.parse::<usize>().map_err(|_| format!("repeat {{{body}}}"));
            let (min, max) = match body.split_once(',') {
                None => (num(&body)?, num(&body)?),
                Some((a, "")) => (num(a)?, usize::MAX),
                Some((a, b)) => (num(a)?, num(b)?),
            };
            if min > max {
                return Err(format!("repeat {{{body}}}"));
            }
            (min, max, i + close + 1)
        }
        _ => return Ok((1, 1, i)),
    };
    if chars.get(next) == Some(&'?') {
        return Err("a lazy quantifier".into());
    }
    Ok((min, max, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(pattern: &str, text: &str) -> Vec<String> {
        let mut words = Vec::new();
        Regex::new(pattern).unwrap().split(text, &mut words);
        words.into_iter().map(String::from).collect()
    }

    #[test]
    fn matches_and_the_text_between_are_words() {
        assert_eq!(
            split("[0-9][0-9][0-9]", "a1234567"),
            ["a", "123", "456", "7"]
        );
        assert_eq!(split("\\p{N}", "x12"), ["x", "1", "2"]);
        assert_eq!(split("\\p{N}+", "٣٤ 5"), ["٣٤", " ", "5"]);
        assert_eq!(
            split("\\s?\\p{L}+", "  héllo wörld"),
            [" ", " héllo", " wörld"]
        );
    }

    #[test]
    fn categories_run_over_the_collapsed_text() {
        // Punctuation: ASCII's listed characters and every non-ASCII P*; not non-ASCII symbols.
        let p = "[\\p{P}\\$\\+<=>\\^~\\|`]+";
        assert_eq!(split(p, "a...b"), ["a", "...", "b"]);
        assert_eq!(split(p, "«x»"), ["«", "x", "»"]);
        assert_eq!(split(p, "€+"), ["€", "+"]);
        // A mark is neither a letter nor punctuation.
        assert_eq!(split("\\s?\\p{L}+", "e\u{301}"), ["e", "\u{301}"]);
    }

    #[test]
    fn whitespace_is_ascii_or_stands_in_as_a_vertical_tab() {
        // U+3000 is whitespace: it becomes 0x0B, which `\s` matches and the range does not.
        assert_eq!(split("\\s?[　-。]+", "x　。"), ["x", "　。"]);
        assert_eq!(split("[　-。]+", "　。"), ["　", "。"]);
        // U+200B is no whitespace to either.
        assert_eq!(split("\\s+", "a\u{200B}b\u{85}"), ["a\u{200B}b", "\u{85}"]);
        assert_eq!(split("\\s+$", " a  "), [" a", "  "]);
        assert_eq!(split("\\s+$", "  a"), ["  a"]);
    }

    #[test]
    fn code_point_ranges_use_the_code_points() {
        let hangul = "[一-龥ࠀ-一가-퟿]+";
        assert_eq!(split(hangul, "ab한국어cd"), ["ab", "한국어", "cd"]);
        assert_eq!(split(hangul, "🦀日本"), ["🦀", "日本"]);
    }

    #[test]
    fn what_is_not_mirrored_is_refused() {
        for p in [
            "a|b",
            "(ab)+",
            "\\s+(?!\\S)",
            "a*",
            "\\p{Han}+",
            "[\\p{L}é]",
            "a+?",
            "\\d",
            ".",
        ] {
            assert!(Regex::new(p).is_err(), "{p}");
        }
    }
}
