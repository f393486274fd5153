//! The first page of who is present, as a `welcome` lists it, and the JSON
//! it keeps: in a crowd every joiner gets the same page (see `hub::crowd`).

use std::ops::Deref;
use std::sync::OnceLock;

use serde::Serialize;
use serde_json::value::RawValue;

use super::Who;

/// Up to [`crate::chat::hub::CROWD`] participants present, in id order,
/// encoded once however many welcomes carry it.
pub struct WhoPage {
    people: Vec<Who>,
    /// `None` inside: it could not be encoded (each welcome then encodes `people`).
    json: OnceLock<Option<Box<RawValue>>>,
}

impl WhoPage {
    pub fn new(people: Vec<Who>) -> Self {
        WhoPage {
            people,
            json: OnceLock::new(),
        }
    }
}

impl Deref for WhoPage {
    type Target = [Who];

    fn deref(&self) -> &[Who] {
        &self.people
    }
}

impl Serialize for WhoPage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let json = self
            .json
            .get_or_init(|| serde_json::value::to_raw_value(&self.people).ok());
        match json {
            Some(json) => json.serialize(serializer),
            None => self.people.serialize(serializer),
        }
    }
}

impl std::fmt::Debug for WhoPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.people.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::hub::tests::who;

    #[test]
    fn a_page_encodes_as_its_people_every_time() {
        let mut people = vec![who(1), who(2)];
        people[1].nick = "a \"quoted\" <name>".into();
        people[1].avatar = Some("https://example.com/a.png".into());
        let page = WhoPage::new(people.clone());
        let expected = serde_json::to_string(&people).unwrap();
        assert_eq!(serde_json::to_string(&page).unwrap(), expected);
        assert_eq!(
            serde_json::to_string(&page).unwrap(),
            expected,
            "from the kept JSON"
        );
        assert_eq!(page.len(), 2);
        assert_eq!(
            serde_json::to_string(&WhoPage::new(Vec::new())).unwrap(),
            "[]"
        );
    }
}
