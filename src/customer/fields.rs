//! The field table: the one place that says which members a customer has,
//! their types and limits, who may write them, and how a PATCH treats nested
//! objects. Parsing, validation, the DynamoDB mapping, the response shape and
//! the README/OpenAPI all follow this table; adding a field is one entry here.

/// How a PATCH treats a nested object member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// RFC 7396 merge into the stored object; a member set to `null` is removed.
    Merge,
    /// The sent object replaces the stored one whole.
    Replace,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Merge => "merge",
            Strategy::Replace => "replace",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Set by the server only; a client sending it gets `read_only_field`.
    ReadOnly,
    /// Chosen by the client on POST, fixed afterwards.
    CreateOnly,
    Writable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string of `min..=max` characters (Unicode scalar values), no control characters.
    Text {
        min: usize,
        max: usize,
    },
    Email,
    Phone,
    /// `YYYY-MM-DD`, a real date from 1900-01-01 to today.
    Date,
    Bool,
    /// ISO 3166-1 alpha-2, uppercase, an assigned code.
    Country,
    /// A fixed set of members, each described by its own table.
    Object(&'static [Field]),
    /// String to string map (limits in [`METADATA`]).
    Metadata,
    /// Array of distinct strings (limits in [`TAGS`]).
    Tags,
    /// Server-generated UUID v4.
    Uuid,
    /// The client-defined identifier (see [`CUSTOMER_ID`]).
    CustomerId,
    /// RFC 3339 UTC with microseconds.
    Timestamp,
    /// A server-owned object.
    Details,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub access: Access,
    /// For object members whose PATCH behaviour the deployer may choose
    /// (`PATCH_STRATEGY`); `None` means the member is never merged in
    /// `application/json` mode.
    pub strategy: Option<Strategy>,
    pub description: &'static str,
}

const fn text(name: &'static str, min: usize, max: usize, description: &'static str) -> Field {
    Field {
        name,
        kind: Kind::Text { min, max },
        access: Access::Writable,
        strategy: None,
        description,
    }
}

const fn writable(name: &'static str, kind: Kind, description: &'static str) -> Field {
    Field {
        name,
        kind,
        access: Access::Writable,
        strategy: None,
        description,
    }
}

const fn read_only(name: &'static str, kind: Kind, description: &'static str) -> Field {
    Field {
        name,
        kind,
        access: Access::ReadOnly,
        strategy: None,
        description,
    }
}

pub const ADDRESS: &[Field] = &[
    text("line1", 1, 256, "Street address"),
    text("line2", 1, 256, "Apartment, suite, unit"),
    text("city", 1, 256, "City"),
    text("state", 1, 256, "State, province or region"),
    text("postalCode", 1, 32, "Postal or ZIP code"),
    writable(
        "country",
        Kind::Country,
        "ISO 3166-1 alpha-2 code, uppercase",
    ),
];

pub const SHIPPING: &[Field] = &[
    text("name", 1, 256, "Recipient name"),
    writable("phone", Kind::Phone, "Recipient phone, E.164"),
    writable("address", Kind::Object(ADDRESS), "Shipping address"),
];

/// The customer, in response order.
pub const CUSTOMER: &[Field] = &[
    read_only("id", Kind::Uuid, "Server-generated UUID v4"),
    Field {
        name: "customerId",
        kind: Kind::CustomerId,
        access: Access::CreateOnly,
        strategy: None,
        description: "Client-defined identifier, 1-128 chars of [A-Za-z0-9_.:-]",
    },
    text("name", 1, 256, "Full name"),
    text("firstName", 1, 128, "First name"),
    text("lastName", 1, 128, "Last name"),
    text("companyName", 1, 256, "Company name"),
    writable(
        "email",
        Kind::Email,
        "Email address, unique across customers (case-insensitive)",
    ),
    writable(
        "billingEmail",
        Kind::Email,
        "Billing email address, not unique",
    ),
    writable("phone", Kind::Phone, "Phone, E.164"),
    writable("dateOfBirth", Kind::Date, "Date of birth, YYYY-MM-DD"),
    Field {
        name: "address",
        kind: Kind::Object(ADDRESS),
        access: Access::Writable,
        strategy: Some(Strategy::Merge),
        description: "Billing address",
    },
    Field {
        name: "shipping",
        kind: Kind::Object(SHIPPING),
        access: Access::Writable,
        strategy: Some(Strategy::Replace),
        description: "Shipping details",
    },
    text("taxId", 1, 64, "Tax identifier"),
    text("taxIdType", 1, 32, "Kind of tax identifier"),
    Field {
        name: "metadata",
        kind: Kind::Metadata,
        access: Access::Writable,
        strategy: Some(Strategy::Replace),
        description: "String to string map of your own data",
    },
    writable("tags", Kind::Tags, "Distinct labels; always replaced whole"),
    text("notes", 0, 5000, "Internal notes"),
    text("preferredLocationId", 1, 128, "Preferred location"),
    text("companyId", 1, 128, "Associated company"),
    writable("marketingConsent", Kind::Bool, "Marketing email consent"),
    read_only("details", Kind::Details, "Server-owned details"),
    read_only("createdAt", Kind::Timestamp, "Creation time"),
    read_only("updatedAt", Kind::Timestamp, "Time of the last change"),
];

pub struct MetadataLimits {
    pub max_keys: usize,
    pub key_max: usize,
    pub value_max: usize,
}

pub const METADATA: MetadataLimits = MetadataLimits {
    max_keys: 50,
    key_max: 40,
    value_max: 500,
};

pub struct TagLimits {
    pub max_items: usize,
    pub item_max: usize,
}

pub const TAGS: TagLimits = TagLimits {
    max_items: 50,
    item_max: 64,
};

pub struct CustomerIdLimits {
    pub max: usize,
}

pub const CUSTOMER_ID: CustomerIdLimits = CustomerIdLimits { max: 128 };

/// Email syntax limits (SPEC §2).
pub const EMAIL_MAX: usize = 254;
pub const EMAIL_LOCAL_MAX: usize = 64;

pub fn lookup(fields: &'static [Field], name: &str) -> Option<&'static Field> {
    fields.iter().find(|f| f.name == name)
}

/// Object members whose strategy `PATCH_STRATEGY` may override.
pub fn configurable() -> impl Iterator<Item = &'static Field> {
    CUSTOMER.iter().filter(|f| f.strategy.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_in_every_table() {
        for table in [CUSTOMER, ADDRESS, SHIPPING] {
            let mut names: Vec<_> = table.iter().map(|f| f.name).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len());
        }
    }

    #[test]
    fn configurable_fields_are_objects_with_the_spec_defaults() {
        let got: Vec<_> = configurable()
            .map(|f| (f.name, f.strategy.map(Strategy::as_str)))
            .collect();
        assert_eq!(
            got,
            vec![
                ("address", Some("merge")),
                ("shipping", Some("replace")),
                ("metadata", Some("replace")),
            ]
        );
    }
}
