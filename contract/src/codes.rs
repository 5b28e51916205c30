//! What each response `codigo` means, as a typed role.
//!
//! The harness and the mock never spell a `codigo`: they name its role
//! ([`Role::Duplicate`], [`Role::BadField`], ...) and ask the contract which
//! `codigo` and HTTP status play it — the `rol` column of `errores.csv`. A
//! ministry annex that calls its duplicate `E409` instead of `NEG01` changes
//! that file, not the code. A row with an empty `rol` is a codigo the contract
//! lists without a role the harness acts on (a known rejection all the same).

use std::fmt;

use crate::Service;

/// The role of a response codigo (`errores.csv`, column `rol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The report was stored (the success envelope).
    Stored,
    /// No token, a malformed one, or one the server does not know.
    TokenMissing,
    /// The token has expired.
    TokenExpired,
    /// The token's client may not use this service or report for this administrator.
    NotEntitled,
    /// The body is not a JSON object, or the Content-Type is wrong.
    MalformedBody,
    /// A required field is missing.
    MissingField,
    /// A field has the wrong format, length, enumeration value or date.
    BadField,
    /// The document type is not allowed for pensions.
    BadDocumentType,
    /// Unknown administrator code, or a regime that does not match it.
    UnknownAdministrator,
    /// Unknown DIVIPOLA code.
    UnknownDivipola,
    /// A duplicate of a stored report (what settles a lost answer).
    Duplicate,
    /// A regime transfer within 10 years of the pension age.
    PensionAge,
    /// A regime transfer within 5 years of the last selection.
    RegimeWindow,
    /// A switch of administrator within 6 months of joining.
    AdministratorWindow,
    /// A switch to the same administrator, or an origin that does not match.
    SameAdministrator,
    /// A retraction of an unknown affiliation or another administrator's.
    UnknownAffiliation,
    /// A retraction after its window.
    RetractionLate,
    /// An affiliation already retracted.
    AlreadyRetracted,
    /// Unknown path.
    UnknownRoute,
    /// HTTP method not allowed on the path.
    MethodNotAllowed,
    /// Request body over the size limit.
    BodyTooLarge,
}

impl Role {
    /// Every role, in `errores.csv`'s order.
    pub const ALL: [Role; 21] = [
        Role::Stored,
        Role::TokenMissing,
        Role::TokenExpired,
        Role::NotEntitled,
        Role::MalformedBody,
        Role::MissingField,
        Role::BadField,
        Role::BadDocumentType,
        Role::UnknownAdministrator,
        Role::UnknownDivipola,
        Role::Duplicate,
        Role::PensionAge,
        Role::RegimeWindow,
        Role::AdministratorWindow,
        Role::SameAdministrator,
        Role::UnknownAffiliation,
        Role::RetractionLate,
        Role::AlreadyRetracted,
        Role::UnknownRoute,
        Role::MethodNotAllowed,
        Role::BodyTooLarge,
    ];

    /// Its spelling in the `rol` column.
    pub fn key(self) -> &'static str {
        match self {
            Role::Stored => "stored",
            Role::TokenMissing => "token_missing",
            Role::TokenExpired => "token_expired",
            Role::NotEntitled => "not_entitled",
            Role::MalformedBody => "malformed_body",
            Role::MissingField => "missing_field",
            Role::BadField => "bad_field",
            Role::BadDocumentType => "bad_document_type",
            Role::UnknownAdministrator => "unknown_administrator",
            Role::UnknownDivipola => "unknown_divipola",
            Role::Duplicate => "duplicate",
            Role::PensionAge => "pension_age",
            Role::RegimeWindow => "regime_window",
            Role::AdministratorWindow => "administrator_window",
            Role::SameAdministrator => "same_administrator",
            Role::UnknownAffiliation => "unknown_affiliation",
            Role::RetractionLate => "retraction_late",
            Role::AlreadyRetracted => "already_retracted",
            Role::UnknownRoute => "unknown_route",
            Role::MethodNotAllowed => "method_not_allowed",
            Role::BodyTooLarge => "body_too_large",
        }
    }

    /// The role spelled `key` in the `rol` column.
    pub fn from_key(key: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.key() == key)
    }

    /// Position in [`ALL`](Self::ALL).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The report services whose answers may carry the role's codigo (what
    /// the `x-codigos` of their responses list): the transfer rules only
    /// `ReportarAfiliaciontraslado`, the retraction's own refusals only
    /// `ReportarRetractoAfiliacion`, an unknown route neither (it has no
    /// path), every other role both.
    pub fn services(self) -> &'static [Service] {
        match self {
            Role::PensionAge
            | Role::RegimeWindow
            | Role::AdministratorWindow
            | Role::SameAdministrator => &[Service::Afiliacion],
            Role::UnknownAffiliation | Role::RetractionLate | Role::AlreadyRetracted => {
                &[Service::Retracto]
            }
            Role::UnknownRoute => &[],
            Role::Stored
            | Role::TokenMissing
            | Role::TokenExpired
            | Role::NotEntitled
            | Role::MalformedBody
            | Role::MissingField
            | Role::BadField
            | Role::BadDocumentType
            | Role::UnknownAdministrator
            | Role::UnknownDivipola
            | Role::Duplicate
            | Role::MethodNotAllowed
            | Role::BodyTooLarge => &Service::ALL,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::Role;

    #[test]
    fn keys_round_trip_and_indexes_follow_all() {
        for (i, r) in Role::ALL.into_iter().enumerate() {
            assert_eq!(Role::from_key(r.key()), Some(r));
            assert_eq!(r.index(), i);
        }
        assert_eq!(Role::from_key("nope"), None);
    }
}
