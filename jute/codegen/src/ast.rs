//! The syntax tree of a Jute IDL file.

/// A field type as written in the IDL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    Byte,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Ustring,
    Buffer,
    Vector(Box<Type>),
    Map(Box<Type>, Box<Type>),
    /// A record type, either bare (same module) or fully qualified (`a.b.Name`).
    Record(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub ty: Type,
    /// 1-based line of the field in its file.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub name: String,
    pub fields: Vec<Field>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Dotted name, e.g. `org.apache.zookeeper.data`.
    pub name: String,
    pub classes: Vec<Class>,
    pub line: usize,
}

/// One parsed IDL file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub modules: Vec<Module>,
}
