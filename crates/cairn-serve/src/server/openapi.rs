//! The OpenAPI document of the server, written by hand (`openapi.json` beside this file) and
//! served at `/openapi.json`. A test checks that it parses and that its paths and methods are
//! exactly the router's ([`super::ROUTES`]).

/// The OpenAPI 3 document, as served.
pub const OPENAPI: &str = include_str!("openapi.json");

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::server::ROUTES;

    #[test]
    fn the_document_parses_and_lists_exactly_the_routes_of_the_router() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json parses");
        assert!(
            doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
            "not an OpenAPI 3 document"
        );
        let paths = doc["paths"].as_object().expect("paths");
        let documented: BTreeSet<(String, String)> = paths
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .expect("a path item")
                    .keys()
                    .filter(|k| *k != "parameters")
                    .map(move |method| (method.to_uppercase(), path.clone()))
            })
            .collect();
        let routed: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|r| (r.method.to_owned(), r.path.to_owned()))
            .collect();
        assert_eq!(documented, routed);
        // Every operation says what it answers, and every referenced schema exists.
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        let text = OPENAPI;
        for (i, _) in text.match_indices("#/components/schemas/") {
            let rest = &text[i + "#/components/schemas/".len()..];
            let name: String = rest.chars().take_while(|c| *c != '"').collect();
            assert!(schemas.contains_key(&name), "no schema {name}");
        }
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                assert!(
                    op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                    "{method} {path} has no responses"
                );
            }
        }
        // The routes that need the token say so.
        for route in ROUTES {
            let op = &paths[route.path][route.method.to_lowercase()];
            assert_eq!(
                op.get("security").is_some(),
                route.auth,
                "{} {}: security",
                route.method,
                route.path
            );
        }
    }
}
