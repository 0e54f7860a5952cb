//! nom parser for the Jute IDL: `module a.b { class C { type name; ... } }`, with `//` and
//! `/* */` comments. Errors name the file and the line.

use crate::ast::{Class, Field, File, Module, Type};
use nom::{
    branch::alt,
    bytes::complete::{tag, take_until, take_while, take_while1},
    character::complete::{char, multispace1},
    combinator::{cut, map, opt, recognize, value},
    error::{context, ContextError, ErrorKind, ParseError},
    multi::{many0, separated_list1},
    sequence::{delimited, pair, preceded},
    IResult,
};
use std::fmt;

/// A parse or validation error, pointing at a file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdlError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for IdlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for IdlError {}

/// Parser error that remembers the innermost expectation and where it failed.
#[derive(Debug)]
struct PErr<'a> {
    at: &'a str,
    expected: Option<&'static str>,
}

impl<'a> ParseError<&'a str> for PErr<'a> {
    fn from_error_kind(input: &'a str, _kind: ErrorKind) -> Self {
        PErr {
            at: input,
            expected: None,
        }
    }
    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        other
    }
    fn or(self, other: Self) -> Self {
        // Keep the alternative that got further.
        if other.at.len() < self.at.len() {
            other
        } else {
            self
        }
    }
}

impl<'a> ContextError<&'a str> for PErr<'a> {
    fn add_context(_input: &'a str, ctx: &'static str, mut other: Self) -> Self {
        if other.expected.is_none() {
            other.expected = Some(ctx);
        }
        other
    }
}

type Res<'a, T> = IResult<&'a str, T, PErr<'a>>;

/// Whitespace and comments.
fn skip(i: &str) -> Res<'_, ()> {
    value(
        (),
        many0(alt((
            value((), multispace1),
            value((), pair(tag("//"), take_while(|c| c != '\n'))),
            value(
                (),
                delimited(
                    tag("/*"),
                    context("end of comment `*/`", cut(take_until("*/"))),
                    tag("*/"),
                ),
            ),
        ))),
    )(i)
}

fn tok<'a, O>(p: impl FnMut(&'a str) -> Res<'a, O>) -> impl FnMut(&'a str) -> Res<'a, O> {
    preceded(skip, p)
}

fn ident(i: &str) -> Res<'_, &str> {
    recognize(pair(
        take_while1(|c: char| c.is_ascii_alphabetic() || c == '_'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))(i)
}

fn qualified(i: &str) -> Res<'_, String> {
    map(separated_list1(char('.'), ident), |parts| parts.join("."))(i)
}

fn keyword<'a>(kw: &'static str) -> impl FnMut(&'a str) -> Res<'a, &'a str> {
    move |i: &'a str| {
        let (rest, word) = ident(i)?;
        if word == kw {
            Ok((rest, word))
        } else {
            Err(nom::Err::Error(PErr {
                at: i,
                expected: None,
            }))
        }
    }
}

fn ty(i: &str) -> Res<'_, Type> {
    let (rest, name) = tok(qualified)(i)?;
    match name.as_str() {
        "byte" => Ok((rest, Type::Byte)),
        "boolean" => Ok((rest, Type::Boolean)),
        "int" => Ok((rest, Type::Int)),
        "long" => Ok((rest, Type::Long)),
        "float" => Ok((rest, Type::Float)),
        "double" => Ok((rest, Type::Double)),
        "ustring" => Ok((rest, Type::Ustring)),
        "buffer" => Ok((rest, Type::Buffer)),
        "vector" => {
            let (rest, inner) = cut(delimited(
                context("`<` after vector", tok(char('<'))),
                context("element type", ty),
                context("`>` closing vector", tok(char('>'))),
            ))(rest)?;
            Ok((rest, Type::Vector(Box::new(inner))))
        }
        "map" => {
            let (rest, (k, v)) = cut(pair(
                preceded(
                    context("`<` after map", tok(char('<'))),
                    context("key type", ty),
                ),
                delimited(
                    context("`,` between map types", tok(char(','))),
                    context("value type", ty),
                    context("`>` closing map", tok(char('>'))),
                ),
            ))(rest)?;
            Ok((rest, Type::Map(Box::new(k), Box::new(v))))
        }
        _ => Ok((rest, Type::Record(name))),
    }
}

struct Parser<'a> {
    full: &'a str,
}

impl<'a> Parser<'a> {
    fn line_of(&self, at: &str) -> usize {
        let offset = self.full.len() - at.len();
        self.full[..offset].matches('\n').count() + 1
    }

    fn field(&self, i: &'a str) -> Res<'a, Field> {
        let (i, _) = skip(i)?;
        let line = self.line_of(i);
        let (i, t) = context("field type", ty)(i)?;
        let (i, name) = cut(context("field name", tok(ident)))(i)?;
        let (i, _) = cut(context("`;` after field", tok(char(';'))))(i)?;
        Ok((
            i,
            Field {
                name: name.to_string(),
                ty: t,
                line,
            },
        ))
    }

    fn class(&self, i: &'a str) -> Res<'a, Class> {
        let (i, _) = skip(i)?;
        let line = self.line_of(i);
        let (i, _) = keyword("class")(i)?;
        let (i, name) = cut(context("class name", tok(ident)))(i)?;
        let (i, _) = cut(context("`{` opening class", tok(char('{'))))(i)?;
        let (i, fields) = many0(|i| self.field(i))(i)?;
        let (i, _) = cut(context("a field or `}` closing class", tok(char('}'))))(i)?;
        Ok((
            i,
            Class {
                name: name.to_string(),
                fields,
                line,
            },
        ))
    }

    fn module(&self, i: &'a str) -> Res<'a, Module> {
        let (i, _) = skip(i)?;
        let line = self.line_of(i);
        let (i, _) = keyword("module")(i)?;
        let (i, name) = cut(context("module name", tok(qualified)))(i)?;
        let (i, _) = cut(context("`{` opening module", tok(char('{'))))(i)?;
        let (i, classes) = many0(|i| self.class(i))(i)?;
        let (i, _) = cut(context("`class` or `}` closing module", tok(char('}'))))(i)?;
        Ok((
            i,
            Module {
                name,
                classes,
                line,
            },
        ))
    }

    fn file(&self, i: &'a str) -> Res<'a, Vec<Module>> {
        let (i, modules) = many0(|i| self.module(i))(i)?;
        let (i, _) = skip(i)?;
        let (i, _) = opt(char(';'))(i)?;
        if !i.is_empty() {
            return Err(nom::Err::Failure(PErr {
                at: i,
                expected: Some("`module`"),
            }));
        }
        Ok((i, modules))
    }
}

/// Parse one IDL file; `path` is used only in error messages.
pub fn parse_file(path: &str, src: &str) -> Result<File, IdlError> {
    let p = Parser { full: src };
    match p.file(src) {
        Ok((_, modules)) => Ok(File {
            path: path.to_string(),
            modules,
        }),
        Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => {
            let found: String = e.at.trim_start().chars().take(20).collect();
            let at = &e.at[e.at.len() - e.at.trim_start().len()..];
            Err(IdlError {
                file: path.to_string(),
                line: p.line_of(at),
                message: format!(
                    "expected {}, found {}",
                    e.expected.unwrap_or("valid Jute"),
                    if found.is_empty() {
                        "end of file".to_string()
                    } else {
                        format!("`{}`", found.split('\n').next().unwrap_or(""))
                    }
                ),
            })
        }
        Err(nom::Err::Incomplete(_)) => Err(IdlError {
            file: path.to_string(),
            line: p.line_of(""),
            message: "unexpected end of file".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_type_forms() {
        let src = "// top\nmodule a.b {\n  /* c */ class C {\n    byte x; boolean b; int i; long l; float f; double d;\n    ustring s; buffer buf; vector<int> v; map<ustring, vector<a.b.D>> m; D r;\n  }\n  class D { }\n}\n";
        let f = parse_file("t.jute", src).unwrap();
        assert_eq!(f.modules.len(), 1);
        let m = &f.modules[0];
        assert_eq!(m.name, "a.b");
        assert_eq!(m.classes[0].fields.len(), 11);
        assert_eq!(m.classes[0].line, 3);
        assert_eq!(m.classes[0].fields[6].line, 5);
        assert_eq!(
            m.classes[0].fields[9].ty,
            Type::Map(
                Box::new(Type::Ustring),
                Box::new(Type::Vector(Box::new(Type::Record("a.b.D".into()))))
            )
        );
    }

    #[test]
    fn missing_semicolon_names_line() {
        let src = "module a {\n class C {\n  int x\n  int y;\n }\n}\n";
        let e = parse_file("bad.jute", src).unwrap_err();
        assert_eq!(e.file, "bad.jute");
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("`;` after field"), "{e}");
    }

    #[test]
    fn unclosed_vector_and_garbage() {
        let e = parse_file("x", "module a { class C { vector<int v; } }").unwrap_err();
        assert!(e.message.contains("`>` closing vector"), "{e}");
        let e = parse_file("x", "module a { }\n\nklass").unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse_file("x", "module a { class C { int x; }").unwrap_err();
        assert!(e.message.contains("closing module"), "{e}");
        let e = parse_file("x", "/* never closed").unwrap_err();
        assert!(e.message.contains("*/"), "{e}");
    }
}
