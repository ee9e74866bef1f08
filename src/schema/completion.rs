//! The response as the GraphQL specification shapes it, whatever order fields finish in and
//! whichever of them fail.
//!
//! async-graphql 7.2 resolves an object's fields concurrently and keys the answer in the order
//! they *finish*, so `{ viewer conversations inboxes }` can come back in any order, differently
//! from one request to the next; and a field whose resolver fails is left out of its object
//! instead of becoming `null`. The specification orders every response map by its selection set
//! ("CollectFields") and nulls a failed field, or, where the field is non-null, its nearest
//! nullable parent. This module re-completes the executed answer that way: it walks the answer
//! beside the operation's selection sets and the schema's types, so it costs one pass over the
//! answer and never calls a resolver.

use std::collections::{HashMap, HashSet};

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    BaseType, Directive, ExecutableDocument, OperationType, Selection, SelectionSet,
    TypeDefinition, TypeKind, TypeSystemDefinition,
};
use async_graphql::parser::{Positioned, parse_schema};
use async_graphql::{Name, PathSegment, Response, ServerError, Value, Variables};

use super::selected_operation;

/// The introspection types, as the specification defines them: async-graphql's SDL leaves them
/// out, and GraphiQL's Docs pane reads them first.
const INTROSPECTION_SDL: &str = r#"
type __Schema { description: String types: [__Type!]! queryType: __Type! mutationType: __Type
  subscriptionType: __Type directives: [__Directive!]! }
type __Type { kind: __TypeKind! name: String description: String specifiedByURL: String
  fields(includeDeprecated: Boolean = false): [__Field!] interfaces: [__Type!]
  possibleTypes: [__Type!] enumValues(includeDeprecated: Boolean = false): [__EnumValue!]
  inputFields(includeDeprecated: Boolean = false): [__InputValue!] ofType: __Type
  isOneOf: Boolean }
type __Field { name: String! description: String args(includeDeprecated: Boolean = false):
  [__InputValue!]! type: __Type! isDeprecated: Boolean! deprecationReason: String }
type __InputValue { name: String! description: String type: __Type! defaultValue: String
  isDeprecated: Boolean! deprecationReason: String }
type __EnumValue { name: String! description: String isDeprecated: Boolean!
  deprecationReason: String }
type __Directive { name: String! description: String isRepeatable: Boolean!
  locations: [__DirectiveLocation!]! args(includeDeprecated: Boolean = false): [__InputValue!]! }
"#;

/// A field's type as completion needs it: nullability at each level and the named type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FieldType {
    Named {
        name: Name,
        nullable: bool,
    },
    List {
        item: Box<FieldType>,
        nullable: bool,
    },
}

impl FieldType {
    fn of(ty: &async_graphql::parser::types::Type) -> Self {
        match &ty.base {
            BaseType::Named(name) => Self::Named {
                name: name.clone(),
                nullable: ty.nullable,
            },
            BaseType::List(item) => Self::List {
                item: Box::new(Self::of(item)),
                nullable: ty.nullable,
            },
        }
    }

    fn nullable(&self) -> bool {
        match self {
            Self::Named { nullable, .. } | Self::List { nullable, .. } => *nullable,
        }
    }

    fn non_null(name: &str) -> Self {
        Self::Named {
            name: Name::new(name),
            nullable: false,
        }
    }
}

/// The schema's output types, read once from its SDL: each object's fields, and the object
/// types behind each interface and union.
#[derive(Debug)]
pub struct Shapes {
    fields: HashMap<Name, HashMap<Name, FieldType>>,
    implementers: HashMap<Name, Vec<Name>>,
    /// The query, mutation and subscription roots' type names.
    roots: [Name; 3],
}

impl Shapes {
    /// The shapes of the schema printed as `sdl`, introspection types included. An SDL that does
    /// not parse (it is the schema's own) leaves the shapes empty, and answers as executed.
    pub fn from_sdl(sdl: &str) -> Self {
        let mut shapes = Self {
            fields: HashMap::new(),
            implementers: HashMap::new(),
            roots: ["Query", "Mutation", "Subscription"].map(Name::new),
        };
        let documents = [sdl, INTROSPECTION_SDL].map(parse_schema);
        for definition in documents.into_iter().flatten().flat_map(|d| d.definitions) {
            match definition {
                TypeSystemDefinition::Type(definition) => shapes.add(definition.node),
                TypeSystemDefinition::Schema(schema) => {
                    let roots = [
                        (OperationType::Query, schema.node.query),
                        (OperationType::Mutation, schema.node.mutation),
                        (OperationType::Subscription, schema.node.subscription),
                    ];
                    for (kind, name) in roots {
                        if let Some(name) = name {
                            shapes.roots[Self::root_index(kind)] = name.node;
                        }
                    }
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        shapes
    }

    fn add(&mut self, definition: TypeDefinition) {
        let name = definition.name.node;
        let (fields, implements) = match definition.kind {
            TypeKind::Object(object) => (object.fields, object.implements),
            TypeKind::Interface(interface) => {
                self.implementers.entry(name.clone()).or_default();
                (interface.fields, interface.implements)
            }
            TypeKind::Union(union) => {
                for member in union.members {
                    self.implementers
                        .entry(name.clone())
                        .or_default()
                        .push(member.node);
                }
                return;
            }
            _ => return,
        };
        for interface in implements {
            self.implementers
                .entry(interface.node)
                .or_default()
                .push(name.clone());
        }
        let fields = fields
            .into_iter()
            .map(|field| (field.node.name.node, FieldType::of(&field.node.ty.node)))
            .collect();
        self.fields.insert(name, fields);
    }

    /// The type of `field` on `object`; the meta-fields every object has included.
    fn field(&self, object: &str, field: &str) -> Option<FieldType> {
        match field {
            "__typename" => Some(FieldType::non_null("String")),
            "__schema" if object == self.root(OperationType::Query) => {
                Some(FieldType::non_null("__Schema"))
            }
            "__type" if object == self.root(OperationType::Query) => Some(FieldType::Named {
                name: Name::new("__Type"),
                nullable: true,
            }),
            _ => self.fields.get(object)?.get(field).cloned(),
        }
    }

    fn root(&self, kind: OperationType) -> &str {
        &self.roots[Self::root_index(kind)]
    }

    fn root_index(kind: OperationType) -> usize {
        match kind {
            OperationType::Query => 0,
            OperationType::Mutation => 1,
            OperationType::Subscription => 2,
        }
    }

    /// Whether an object of type `object` is in the type a fragment is conditioned `on`.
    fn applies(&self, on: &str, object: &str) -> bool {
        on == object
            || self
                .implementers
                .get(on)
                .is_some_and(|members| members.iter().any(|member| member == object))
    }

    fn is_abstract(&self, name: &str) -> bool {
        self.implementers.contains_key(name)
    }
}

/// One response key of a selection set, with every selection set merged under it (the same
/// key may be selected several times, through fragments).
struct Collected<'a> {
    key: &'a Name,
    field: &'a Name,
    selections: Vec<&'a SelectionSet>,
}

/// One operation's answer being completed against its document.
pub struct Completion<'a> {
    shapes: &'a Shapes,
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    /// Paths of the errors reported, where a field whose type is abstract was left out.
    failed: Vec<Vec<PathSegment>>,
}

impl<'a> Completion<'a> {
    /// Orders `response`'s data as the selection sets of the operation it ran order it, and
    /// nulls every field that failed (or its nearest nullable parent). Request errors (no
    /// data, nothing executed) are left as they are.
    pub fn complete(
        shapes: &'a Shapes,
        document: &'a ExecutableDocument,
        operation_name: Option<&str>,
        variables: &'a Variables,
        response: &mut Response,
    ) {
        let Some((_, operation)) = selected_operation(document, operation_name) else {
            return;
        };
        let root = shapes.root(operation.node.ty);
        let executed = match std::mem::take(&mut response.data) {
            Value::Object(fields) => fields,
            // Every field of the root failed: its object is empty. Without errors on fields,
            // nothing was executed.
            Value::Null if response.errors.iter().any(|e| !e.path.is_empty()) => IndexMap::new(),
            other => {
                response.data = other;
                return;
            }
        };
        let completion = Completion {
            shapes,
            document,
            variables,
            failed: response.errors.iter().map(|e| e.path.clone()).collect(),
        };
        let mut path = Vec::new();
        response.data = completion.object(
            executed,
            Some(root),
            &[&operation.node.selection_set.node],
            &mut path,
        );
    }

    /// A value of type `ty`, completed; `Null` where it (or a non-null part of it) failed.
    fn value(
        &self,
        value: Value,
        ty: &FieldType,
        selections: &[&SelectionSet],
        path: &mut Vec<PathSegment>,
    ) -> Value {
        match (value, ty) {
            (Value::List(items), FieldType::List { item, .. }) => {
                let mut completed = Vec::with_capacity(items.len());
                for (index, value) in items.into_iter().enumerate() {
                    path.push(PathSegment::Index(index));
                    let value = self.value(value, item, selections, path);
                    path.pop();
                    if value == Value::Null && !item.nullable() {
                        return Value::Null;
                    }
                    completed.push(value);
                }
                Value::List(completed)
            }
            (Value::Object(fields), FieldType::Named { name, .. }) => {
                let object = if self.shapes.is_abstract(name) {
                    self.concrete_type(name, &fields, selections, path)
                } else {
                    Some(name.as_str())
                };
                self.object(fields, object, selections, path)
            }
            (value, _) => value,
        }
    }

    fn failed_at(&self, path: &[PathSegment]) -> bool {
        self.failed.iter().any(|failed| failed == path)
    }

    /// An object of type `object` (`None`: of an abstract type whose member is unknown),
    /// ordered by its selection sets; `Null` when a non-null field of it failed.
    fn object(
        &self,
        mut executed: IndexMap<Name, Value>,
        object: Option<&str>,
        selections: &[&SelectionSet],
        path: &mut Vec<PathSegment>,
    ) -> Value {
        let collected = self.collect(object, selections);
        let mut completed = IndexMap::with_capacity(executed.len());
        for Collected {
            key,
            field,
            selections,
        } in collected
        {
            let ty = object.and_then(|object| self.shapes.field(object, field));
            path.push(PathSegment::Field(key.to_string()));
            let value = match executed.shift_remove(key) {
                Some(value) => match &ty {
                    Some(ty) => Some(self.value(value, ty, &selections, path)),
                    None => Some(value),
                },
                // Left out: it failed, or (where the type is unknown) it is not selected on
                // this type.
                None if ty.is_some() || self.failed_at(path) => Some(Value::Null),
                None => None,
            };
            path.pop();
            let Some(value) = value else { continue };
            if value == Value::Null && ty.as_ref().is_some_and(|ty| !ty.nullable()) {
                return Value::Null;
            }
            completed.insert(key.clone(), value);
        }
        // Nothing executed is lost, should the document and the answer ever disagree.
        completed.extend(executed);
        Value::Object(completed)
    }

    /// The object type, among the members of `abstract_type`, of an object that answered
    /// `fields`: the first whose selections hold every key answered or failed, and that left
    /// out nothing but failures. `None` when no member fits.
    fn concrete_type(
        &self,
        abstract_type: &str,
        fields: &IndexMap<Name, Value>,
        selections: &[&SelectionSet],
        path: &[PathSegment],
    ) -> Option<&'a str> {
        let failed: Vec<&str> = self
            .failed
            .iter()
            .filter(|failed| failed.len() == path.len() + 1 && failed.starts_with(path))
            .filter_map(|failed| match failed.last() {
                Some(PathSegment::Field(key)) => Some(key.as_str()),
                _ => None,
            })
            .collect();
        let members = self.shapes.implementers.get(abstract_type)?;
        members.iter().map(Name::as_str).find(|member| {
            let collected = self.collect(Some(member), selections);
            let selects = |key: &str| collected.iter().any(|c| c.key == key);
            fields.keys().all(|key| selects(key))
                && failed.iter().all(|key| selects(key))
                && collected
                    .iter()
                    .all(|c| fields.contains_key(c.key) || failed.contains(&c.key.as_str()))
        })
    }

    /// The response keys `selections` select on an object of type `object`, in order of first
    /// appearance (the specification's CollectFields). With `object` unknown, every type
    /// condition is taken to apply.
    fn collect(&self, object: Option<&str>, selections: &[&'a SelectionSet]) -> Vec<Collected<'a>> {
        let mut collected: Vec<Collected<'a>> = Vec::new();
        let mut visited: HashSet<&Name> = HashSet::new();
        for selection_set in selections {
            self.collect_into(object, selection_set, &mut collected, &mut visited);
        }
        collected
    }

    fn collect_into(
        &self,
        object: Option<&str>,
        selection_set: &'a SelectionSet,
        collected: &mut Vec<Collected<'a>>,
        visited: &mut HashSet<&'a Name>,
    ) {
        for selection in &selection_set.items {
            if !self.included(selection.node.directives()) {
                continue;
            }
            match &selection.node {
                Selection::Field(field) => {
                    let key = &field.node.response_key().node;
                    let nested = &field.node.selection_set.node;
                    match collected.iter_mut().find(|c| c.key == key) {
                        Some(existing) => existing.selections.push(nested),
                        None => collected.push(Collected {
                            key,
                            field: &field.node.name.node,
                            selections: vec![nested],
                        }),
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    let Some(fragment) = self.document.fragments.get(name) else {
                        continue;
                    };
                    if !visited.insert(name)
                        || !self.applies(object, &fragment.node.type_condition.node.on.node)
                    {
                        continue;
                    }
                    self.collect_into(
                        object,
                        &fragment.node.selection_set.node,
                        collected,
                        visited,
                    );
                }
                Selection::InlineFragment(inline) => {
                    let applies = match &inline.node.type_condition {
                        Some(condition) => self.applies(object, &condition.node.on.node),
                        None => true,
                    };
                    if applies {
                        self.collect_into(
                            object,
                            &inline.node.selection_set.node,
                            collected,
                            visited,
                        );
                    }
                }
            }
        }
    }

    fn applies(&self, object: Option<&str>, on: &str) -> bool {
        object.is_none_or(|object| self.shapes.applies(on, object))
    }

    /// Whether `@skip` and `@include` keep a selection.
    fn included(&self, directives: &[Positioned<Directive>]) -> bool {
        directives.iter().all(|directive| {
            let condition = || {
                let value = directive.node.get_argument("if")?.node.clone();
                let value = value
                    .into_const_with(|name| self.variables.get(&name).cloned().ok_or(()))
                    .ok()?;
                match value {
                    Value::Boolean(condition) => Some(condition),
                    _ => None,
                }
            };
            match directive.node.name.node.as_str() {
                "skip" => condition() != Some(true),
                "include" => condition() != Some(false),
                _ => true,
            }
        })
    }
}

/// Drops line 0 from errors' locations: positions start at 1, and async-graphql gives 0:0
/// to errors that have no place in the document (request errors).
pub fn without_placeless_locations(errors: &mut [ServerError]) {
    for error in errors {
        error.locations.retain(|location| location.line > 0);
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use serde_json::{Value as Json, json};

    use super::*;

    const SDL: &str = "
        interface Node { id: ID! }
        type Query { a: A! maybe: A list: [A!] nodes: [Node]! node: Node }
        type Mutation { first: A second: A }
        type A implements Node { id: ID! x: Int y: Int! b: B }
        type B implements Node { id: ID! z: String w: String }
    ";

    /// Completes `executed` (with errors at `failed` paths) for `query`, as JSON text order.
    fn complete(query: &str, variables: Json, executed: Json, failed: &[Json]) -> Json {
        let shapes = Shapes::from_sdl(SDL);
        let document = parse_query(query).expect("query parses");
        let variables = Variables::from_json(variables);
        let mut response = Response::new(Value::from_json(executed).expect("value"));
        response.errors = failed
            .iter()
            .map(|path| {
                let mut error = ServerError::new("failed", None);
                error.path = serde_json::from_value(path.clone()).expect("path");
                error
            })
            .collect();
        Completion::complete(&shapes, &document, None, &variables, &mut response);
        // Compared as text, so that key order counts.
        serde_json::from_str(&serde_json::to_string(&response.data).unwrap()).unwrap()
    }

    fn keys(value: &Json) -> Vec<&str> {
        value
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect()
    }

    /// `serde_json`'s maps sort their keys; the order is checked on the text instead.
    fn text_order(query: &str, executed: Json) -> String {
        let shapes = Shapes::from_sdl(SDL);
        let document = parse_query(query).expect("query parses");
        let mut response = Response::new(Value::from_json(executed).expect("value"));
        Completion::complete(
            &shapes,
            &document,
            None,
            &Variables::default(),
            &mut response,
        );
        serde_json::to_string(&response.data).unwrap()
    }

    #[test]
    fn keys_follow_the_selection_set_whatever_order_fields_finished_in() {
        let query = "{ maybe { b { w z } x id } a { id } second: a { x } }";
        let executed = json!({
            "second": {"x": 2},
            "a": {"id": "1"},
            "maybe": {"id": "9", "x": 1, "b": {"z": "z", "w": "w"}},
        });
        assert_eq!(
            text_order(query, executed),
            r#"{"maybe":{"b":{"w":"w","z":"z"},"x":1,"id":"9"},"a":{"id":"1"},"second":{"x":2}}"#
        );
    }

    #[test]
    fn fragments_merge_into_the_place_a_key_first_appears() {
        let query = "{ a { x ...F id ... on A { b { z } x } } } fragment F on A { b { w } y }";
        let executed = json!({"a": {"y": 1, "id": "1", "x": 2, "b": {"z": "z", "w": "w"}}});
        assert_eq!(
            text_order(query, executed),
            r#"{"a":{"x":2,"b":{"w":"w","z":"z"},"y":1,"id":"1"}}"#
        );
    }

    #[test]
    fn an_abstract_position_is_ordered_as_the_member_that_answered() {
        let query = "{ node { ... on A { id x } ... on B { z id } } }";
        assert_eq!(
            text_order(query, json!({"node": {"id": "2", "z": "z"}})),
            r#"{"node":{"z":"z","id":"2"}}"#
        );
        assert_eq!(
            text_order(query, json!({"node": {"x": 1, "id": "1"}})),
            r#"{"node":{"id":"1","x":1}}"#
        );
    }

    #[test]
    fn a_failed_nullable_field_becomes_null_beside_its_siblings() {
        let data = complete(
            "{ maybe { x id } a { id } }",
            json!({}),
            json!({"a": {"id": "1"}}),
            &[json!(["maybe"])],
        );
        assert_eq!(data, json!({"maybe": null, "a": {"id": "1"}}));
    }

    #[test]
    fn a_failed_non_null_field_nulls_its_nearest_nullable_parent() {
        let data = complete(
            "{ maybe { x y } list { id y } }",
            json!({}),
            json!({"maybe": {"x": 1}, "list": [{"id": "1", "y": 1}, {"id": "2"}]}),
            &[json!(["maybe", "y"]), json!(["list", 1, "y"])],
        );
        assert_eq!(data, json!({"maybe": null, "list": null}));
    }

    #[test]
    fn a_failed_non_null_root_field_nulls_the_data() {
        let data = complete(
            "{ a { id } maybe { id } }",
            json!({}),
            json!({"maybe": {"id": "1"}}),
            &[json!(["a"])],
        );
        assert_eq!(data, Json::Null);
    }

    #[test]
    fn every_failed_mutation_is_null_even_when_none_succeeded() {
        let shapes = Shapes::from_sdl(SDL);
        let document = parse_query("mutation { one: first { id } two: second { id } }").unwrap();
        let mut response = Response::new(Value::Null);
        for key in ["one", "two"] {
            let mut error = ServerError::new("failed", None);
            error.path = vec![PathSegment::Field(key.to_owned())];
            response.errors.push(error);
        }
        Completion::complete(
            &shapes,
            &document,
            None,
            &Variables::default(),
            &mut response,
        );
        assert_eq!(
            serde_json::to_string(&response.data).unwrap(),
            r#"{"one":null,"two":null}"#
        );
    }

    #[test]
    fn a_failed_field_of_an_abstract_position_is_found_by_its_path() {
        let data = complete(
            "{ nodes { id ... on B { z } } }",
            json!({}),
            json!({"nodes": [{"id": "1"}, {"id": "2"}]}),
            &[json!(["nodes", 1, "z"])],
        );
        assert_eq!(
            data,
            json!({"nodes": [{"id": "1"}, {"id": "2", "z": null}]})
        );
    }

    #[test]
    fn skipped_selections_are_not_expected() {
        let data = complete(
            "query($no: Boolean!) { a { id x @include(if: $no) y @skip(if: true) } }",
            json!({"no": false}),
            json!({"a": {"id": "1"}}),
            &[],
        );
        assert_eq!(data, json!({"a": {"id": "1"}}));
        assert_eq!(keys(&data["a"]), ["id"]);
    }

    #[test]
    fn request_errors_are_left_without_data() {
        let data = complete("{ a { id } }", json!({}), Json::Null, &[]);
        assert_eq!(data, Json::Null);
    }

    #[test]
    fn introspection_answers_are_shaped_too() {
        let query = "{ __schema { queryType { name kind } } __typename }";
        let executed = json!({"__typename": "Query", "__schema": {"queryType": {"kind": "OBJECT", "name": "Query"}}});
        assert_eq!(
            text_order(query, executed),
            r#"{"__schema":{"queryType":{"name":"Query","kind":"OBJECT"}},"__typename":"Query"}"#
        );
    }
}
