//! jute-codegen: parses Jute IDL files (nom) and generates Rust records for the `jute` crate.
//!
//! Each IDL module becomes a Rust module named after the module's last segment
//! (`org.apache.zookeeper.data` -> `data`); each class a struct with snake_case fields and
//! `Encode`, `Decode` and `Record` impls, plus `Sample` behind the `sample` feature.
//! The generated code refers to the runtime as `crate::codec`.

pub mod ast;
pub mod parse;

use ast::{File, Type};
pub use parse::{parse_file, IdlError};
use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;

/// Parse every `*.jute` file in `dir` (sorted by name) and generate Rust source.
pub fn generate_dir(dir: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jute"))
        .collect();
    paths.sort();
    let mut files = Vec::new();
    for p in &paths {
        let src = std::fs::read_to_string(p)?;
        files.push(parse_file(&p.display().to_string(), &src)?);
    }
    Ok(generate(&files)?)
}

struct ClassRef {
    rust_module: String,
    rust_name: String,
}

/// Generate Rust source for the given parsed files, checking that every record reference
/// resolves and that no class or field is defined twice.
pub fn generate(files: &[File]) -> Result<String, IdlError> {
    // Pass 1: index classes by fully qualified name.
    let mut classes: HashMap<String, ClassRef> = HashMap::new();
    let mut module_owner: HashMap<String, String> = HashMap::new();
    for f in files {
        for m in &f.modules {
            let rust_module = m.name.rsplit('.').next().unwrap_or(&m.name).to_string();
            match module_owner.get(&rust_module) {
                Some(other) if other != &m.name => {
                    return Err(IdlError {
                        file: f.path.clone(),
                        line: m.line,
                        message: format!(
                            "module `{}` would share Rust module `{rust_module}` with `{other}`",
                            m.name
                        ),
                    })
                }
                _ => {
                    module_owner.insert(rust_module.clone(), m.name.clone());
                }
            }
            for c in &m.classes {
                let full = format!("{}.{}", m.name, c.name);
                if classes.contains_key(&full) {
                    return Err(IdlError {
                        file: f.path.clone(),
                        line: c.line,
                        message: format!("class `{full}` is defined twice"),
                    });
                }
                classes.insert(
                    full,
                    ClassRef {
                        rust_module: rust_module.clone(),
                        rust_name: rust_type_name(&c.name),
                    },
                );
            }
        }
    }

    // Records without float/double fields (transitively) also derive Eq and Hash.
    let mut hashable: HashMap<String, bool> = HashMap::new();
    loop {
        let mut changed = false;
        for f in files {
            for m in &f.modules {
                for c in &m.classes {
                    let full = format!("{}.{}", m.name, c.name);
                    if hashable.contains_key(&full) {
                        continue;
                    }
                    let verdict = c
                        .fields
                        .iter()
                        .map(|fld| type_hashable(&fld.ty, &m.name, &hashable))
                        .try_fold(true, |acc, v| v.map(|v| acc && v));
                    if let Some(v) = verdict {
                        hashable.insert(full, v);
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }

    // Pass 2: emit, grouping classes by Rust module.
    let mut by_module: Vec<(String, String)> = Vec::new(); // (rust module, code)
    let mut all_records: Vec<String> = Vec::new();
    for f in files {
        for m in &f.modules {
            let rust_module = m.name.rsplit('.').next().unwrap_or(&m.name).to_string();
            let mut code = String::new();
            for c in &m.classes {
                let mut seen = HashMap::new();
                let mut fields = Vec::new();
                for fld in &c.fields {
                    if seen.insert(fld.name.clone(), ()).is_some() {
                        return Err(IdlError {
                            file: f.path.clone(),
                            line: fld.line,
                            message: format!(
                                "field `{}` is defined twice in `{}`",
                                fld.name, c.name
                            ),
                        });
                    }
                    let rust_ty =
                        rust_type(&fld.ty, &m.name, &classes).map_err(|what| IdlError {
                            file: f.path.clone(),
                            line: fld.line,
                            message: format!(
                                "unknown record type `{what}` in field `{}`",
                                fld.name
                            ),
                        })?;
                    fields.push((rust_field_name(&fld.name), rust_ty, fld.name.clone()));
                }
                let name = rust_type_name(&c.name);
                let java = format!("{}.{}", m.name, c.name);
                let eq = hashable.get(&java).copied().unwrap_or(false);
                emit_class(&mut code, &name, &java, &fields, eq);
                all_records.push(format!("{rust_module}::{name}"));
            }
            match by_module.iter_mut().find(|(n, _)| *n == rust_module) {
                Some((_, existing)) => existing.push_str(&code),
                None => by_module.push((rust_module, code)),
            }
        }
    }

    let mut out = String::from("// @generated by jute-codegen from jute/schema; do not edit.\n");
    for (module, code) in &by_module {
        let _ = writeln!(
            out,
            "\n#[allow(clippy::all)]\npub mod {module} {{\n{code}}}"
        );
    }
    out.push_str(
        "\n/// Calls `v.visit::<R>()` for every generated record.\n#[cfg(feature = \"sample\")]\npub fn visit_all_records<V: crate::codec::RecordVisitor>(v: &mut V) {\n",
    );
    for r in &all_records {
        let _ = writeln!(out, "    v.visit::<{r}>();");
    }
    out.push_str("}\n");
    Ok(out)
}

/// `Some(true)` if values of `t` can derive Eq/Hash, `None` while a referenced record is
/// still undecided (or recursive).
fn type_hashable(t: &Type, module: &str, known: &HashMap<String, bool>) -> Option<bool> {
    match t {
        Type::Float | Type::Double => Some(false),
        Type::Vector(e) => type_hashable(e, module, known),
        Type::Map(k, v) => {
            Some(type_hashable(k, module, known)? && type_hashable(v, module, known)?)
        }
        Type::Record(n) => known
            .get(n)
            .or_else(|| known.get(&format!("{module}.{n}")))
            .copied(),
        _ => Some(true),
    }
}

fn emit_class(
    code: &mut String,
    name: &str,
    java: &str,
    fields: &[(String, String, String)],
    eq: bool,
) {
    let _ = writeln!(code, "    /// Jute record `{java}`.");
    let derives = if eq { ", Eq, Hash" } else { "" };
    let _ = writeln!(
        code,
        "    #[derive(Debug, Clone, PartialEq, Default{derives})]"
    );
    let _ = writeln!(code, "    pub struct {name} {{");
    for (f, t, _) in fields {
        let _ = writeln!(code, "        pub {f}: {t},");
    }
    let _ = writeln!(code, "    }}");
    let _ = writeln!(
        code,
        "    impl crate::codec::Record for {name} {{\n        const JAVA_NAME: &'static str = \"{java}\";\n    }}"
    );
    let _ = writeln!(code, "    impl crate::codec::Encode for {name} {{");
    let _ = writeln!(
        code,
        "        fn encode(&self, {}: &mut ::bytes::BytesMut) {{",
        if fields.is_empty() { "_out" } else { "out" }
    );
    for (f, _, _) in fields {
        let _ = writeln!(
            code,
            "            crate::codec::Encode::encode(&self.{f}, out);"
        );
    }
    let _ = writeln!(code, "        }}\n    }}");
    let _ = writeln!(code, "    impl crate::codec::Decode for {name} {{");
    let _ = writeln!(
        code,
        "        fn decode({}: &mut ::bytes::Bytes) -> ::core::result::Result<Self, crate::codec::DecodeError> {{",
        if fields.is_empty() { "_input" } else { "input" }
    );
    let _ = writeln!(code, "            Ok(Self {{");
    for (f, _, idl) in fields {
        let simple = java.rsplit('.').next().unwrap_or(java);
        let _ = writeln!(
            code,
            "                {f}: crate::codec::Decode::decode(input).map_err(|e| e.within(\"{simple}.{idl}\"))?,"
        );
    }
    let _ = writeln!(code, "            }})\n        }}\n    }}");
    let _ = writeln!(code, "    #[cfg(feature = \"sample\")]");
    let _ = writeln!(code, "    impl crate::codec::Sample for {name} {{");
    let _ = writeln!(
        code,
        "        fn sample({}: &mut crate::codec::SampleGen) -> Self {{",
        if fields.is_empty() { "_g" } else { "g" }
    );
    let _ = writeln!(code, "            Self {{");
    for (f, _, _) in fields {
        let _ = writeln!(
            code,
            "                {f}: crate::codec::Sample::sample(g),"
        );
    }
    let _ = writeln!(code, "            }}\n        }}\n    }}");
}

fn rust_type(
    t: &Type,
    module: &str,
    classes: &HashMap<String, ClassRef>,
) -> Result<String, String> {
    Ok(match t {
        Type::Byte => "i8".into(),
        Type::Boolean => "bool".into(),
        Type::Int => "i32".into(),
        Type::Long => "i64".into(),
        Type::Float => "f32".into(),
        Type::Double => "f64".into(),
        Type::Ustring => "::std::string::String".into(),
        Type::Buffer => "::core::option::Option<::bytes::Bytes>".into(),
        Type::Vector(e) => format!("::std::vec::Vec<{}>", rust_type(e, module, classes)?),
        Type::Map(k, v) => format!(
            "::std::vec::Vec<({}, {})>",
            rust_type(k, module, classes)?,
            rust_type(v, module, classes)?
        ),
        Type::Record(name) => {
            let c = classes
                .get(name)
                .or_else(|| classes.get(&format!("{module}.{name}")))
                .ok_or_else(|| name.clone())?;
            format!("crate::{}::{}", c.rust_module, c.rust_name)
        }
    })
}

/// `ACL` -> `Acl`; mixed-case names are kept.
fn rust_type_name(n: &str) -> String {
    if n.len() > 1
        && n.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        let mut s = n[..1].to_string();
        s.push_str(&n[1..].to_ascii_lowercase());
        s
    } else {
        n.to_string()
    }
}

/// `ephemeralOwner` -> `ephemeral_owner`, `parentCVersion` -> `parent_c_version`,
/// `type` -> `r#type`.
pub fn rust_field_name(n: &str) -> String {
    let mut s = String::new();
    for (i, c) in n.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                s.push('_');
            }
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    const KEYWORDS: &[&str] = &[
        "type", "match", "mod", "ref", "self", "super", "struct", "fn", "impl", "in", "loop",
        "move", "mut", "pub", "return", "static", "trait", "use", "where", "while", "async",
        "await", "dyn", "abstract", "final", "override", "box", "yield", "try", "macro",
    ];
    if KEYWORDS.contains(&s.as_str()) {
        format!("r#{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(rust_field_name("ephemeralOwner"), "ephemeral_owner");
        assert_eq!(rust_field_name("parentCVersion"), "parent_c_version");
        assert_eq!(rust_field_name("paths2Delete"), "paths2_delete");
        assert_eq!(rust_field_name("type"), "r#type");
        assert_eq!(rust_type_name("ACL"), "Acl");
        assert_eq!(rust_type_name("GetSASLRequest"), "GetSASLRequest");
    }

    #[test]
    fn unknown_record_and_duplicates_are_errors() {
        let f = parse_file("a.jute", "module m {\n class C {\n  Nope x;\n }\n}").unwrap();
        let e = generate(&[f]).unwrap_err();
        assert_eq!((e.line, e.file.as_str()), (3, "a.jute"));
        assert!(e.message.contains("unknown record type `Nope`"), "{e}");

        let f = parse_file("a.jute", "module m {\n class C { int x;\n int x; }\n}").unwrap();
        assert!(generate(&[f])
            .unwrap_err()
            .message
            .contains("defined twice"));

        let f = parse_file("a.jute", "module m { class C { } class C { } }").unwrap();
        assert!(generate(&[f])
            .unwrap_err()
            .message
            .contains("defined twice"));
    }

    #[test]
    fn resolves_bare_and_qualified_names() {
        let f = parse_file(
            "a.jute",
            "module x.m { class A { int i; } class B { A a; x.m.A b; vector<A> c; } }",
        )
        .unwrap();
        let code = generate(&[f]).unwrap();
        assert!(code.contains("pub a: crate::m::A,"));
        assert!(code.contains("pub c: ::std::vec::Vec<crate::m::A>,"));
    }
}
