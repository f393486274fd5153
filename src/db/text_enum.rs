//! Enums stored as text columns. [`text_enum!`] gives each one its stored
//! names, `FromStr` (unknown names are errors, never a default), `Display`,
//! serde as the same names, and diesel's `Text` conversions on both backends.

/// A stored or typed name that no variant has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
}

/// Declares a text-backed enum: `Variant = "stored name"`.
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name stored in the database and shown in forms.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::db::text_enum::UnknownName;
            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                match raw {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::db::text_enum::UnknownName {
                        what: $what,
                        value: raw.to_owned(),
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                raw.parse().map_err(serde::de::Error::custom)
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(self.as_str(), out)
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let raw = <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(bytes)?;
                Ok(raw.parse::<$name>()?)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use crate::db::models::audit::AuditAction;
    use crate::db::models::report::Resolution;
    use crate::db::models::{FilterAction, FilterKind, ParticipantKind, Role, RoomPolicy};

    /// Every variant's name parses back to it, shows as itself, serializes as
    /// itself, and no two variants share a name.
    fn round_trips<T>(all: &[T], as_str: fn(T) -> &'static str)
    where
        T: Copy
            + PartialEq
            + std::fmt::Debug
            + std::fmt::Display
            + std::str::FromStr<Err = super::UnknownName>
            + serde::Serialize
            + serde::de::DeserializeOwned,
    {
        let mut seen = HashSet::new();
        for &value in all {
            let name = as_str(value);
            assert!(seen.insert(name), "{name:?} is used twice");
            assert_eq!(name.parse::<T>(), Ok(value));
            assert_eq!(value.to_string(), name);
            assert_eq!(serde_json::to_value(value).unwrap(), name);
            assert_eq!(serde_json::from_value::<T>(name.into()).unwrap(), value);
        }
    }

    #[test]
    fn every_name_round_trips() {
        round_trips(Role::ALL, Role::as_str);
        round_trips(ParticipantKind::ALL, ParticipantKind::as_str);
        round_trips(RoomPolicy::ALL, RoomPolicy::as_str);
        round_trips(FilterKind::ALL, FilterKind::as_str);
        round_trips(FilterAction::ALL, FilterAction::as_str);
        round_trips(Resolution::ALL, Resolution::as_str);
        round_trips(AuditAction::ALL, AuditAction::as_str);
    }

    #[test]
    fn unknown_names_are_errors_never_a_default() {
        let err = "Owner".parse::<Role>().unwrap_err();
        assert_eq!(err.to_string(), r#"unknown role "Owner""#);
        assert_eq!(
            "closed".parse::<RoomPolicy>().unwrap_err().to_string(),
            r#"unknown room policy "closed""#
        );
        assert!("".parse::<RoomPolicy>().is_err());
        assert!(" open".parse::<RoomPolicy>().is_err());
        assert!("site.explode".parse::<AuditAction>().is_err());
        let err = serde_json::from_value::<FilterAction>("hide".into()).unwrap_err();
        assert!(
            err.to_string()
                .contains(r#"unknown word filter action "hide""#),
            "{err}"
        );
    }

    /// The stored name goes in and comes out; a name no variant has does not load.
    #[test]
    fn sqlite_stores_the_name_and_refuses_unknown_ones() {
        use diesel::prelude::*;
        use diesel::sql_types::Text;

        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            policy: RoomPolicy,
        }
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let stored: Vec<String> =
            diesel::select(RoomPolicy::Precreated.into_sql::<Text>().concat(""))
                .load(&mut conn)
                .unwrap();
        assert_eq!(stored, ["precreated"]);
        let row: Row = diesel::sql_query("SELECT 'open' AS policy")
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(row.policy, RoomPolicy::Open);
        let err = diesel::sql_query("SELECT 'closed' AS policy")
            .get_result::<Row>(&mut conn)
            .err()
            .expect("an unknown stored name must not load");
        assert!(
            err.to_string().contains(r#"unknown room policy "closed""#),
            "{err}"
        );
    }
}
