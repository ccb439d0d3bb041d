-- The local read model of every principal's directory, built from directory events.
CREATE TABLE dir_principals (
    principal           text PRIMARY KEY,
    name                text NOT NULL,
    kind                text NOT NULL,
    organisation_number text NOT NULL
);

CREATE TABLE dir_functions (
    principal  text NOT NULL,
    function   text NOT NULL,
    name       text NOT NULL,
    unit       text NOT NULL,
    unit_name  text NOT NULL,
    unit_kind  text NOT NULL,
    mailbox    text NOT NULL,
    valid_from date NOT NULL,
    valid_to   date,
    PRIMARY KEY (principal, function)
);

CREATE TABLE dir_contacts (
    principal             text NOT NULL,
    contact               text NOT NULL,
    function              text NOT NULL,
    counterpart_principal text NOT NULL,
    counterpart_function  text NOT NULL,
    need                  text NOT NULL,
    valid_from            date NOT NULL,
    valid_to              date,
    PRIMARY KEY (principal, contact)
);
CREATE INDEX dir_contacts_route ON dir_contacts (principal, function, need);
