-- Addresses whose balances tokenomics exporters exclude from the circulating supply.
CREATE TABLE metrics.excluded_addresses (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    value      text        NOT NULL UNIQUE CHECK (btrim(value) <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Every change, whoever makes it (API or psql): who, when, what.
CREATE TABLE metrics.excluded_addresses_audit (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    changed_at timestamptz NOT NULL DEFAULT now(),
    action     text        NOT NULL CHECK (action IN ('add', 'remove', 'update')),
    address_id integer     NOT NULL,
    value      text        NOT NULL,
    old_value  text,
    -- from the request's JWT claims; role falls back to the session's role for psql users
    sub        text,
    role       text        NOT NULL
);

CREATE INDEX ON metrics.excluded_addresses_audit (changed_at);

CREATE FUNCTION metrics.audit_excluded_address() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, metrics
AS $$
DECLARE
    v_claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
    -- inside SECURITY DEFINER callers current_user is the owner; the SET ROLE is real.
    v_role text := coalesce(v_claims ->> 'role', nullif(current_setting('role'), 'none'),
                            session_user);
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO metrics.excluded_addresses_audit (action, address_id, value, sub, role)
        VALUES ('add', NEW.id, NEW.value, v_claims ->> 'sub', v_role);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO metrics.excluded_addresses_audit (action, address_id, value, sub, role)
        VALUES ('remove', OLD.id, OLD.value, v_claims ->> 'sub', v_role);
    ELSE
        INSERT INTO metrics.excluded_addresses_audit
            (action, address_id, value, old_value, sub, role)
        VALUES ('update', NEW.id, NEW.value, OLD.value, v_claims ->> 'sub', v_role);
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION metrics.audit_excluded_address() FROM PUBLIC;

CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON metrics.excluded_addresses
    FOR EACH ROW EXECUTE FUNCTION metrics.audit_excluded_address();

COMMENT ON TABLE metrics.excluded_addresses IS 'Addresses excluded from the circulating supply.';
COMMENT ON TABLE metrics.excluded_addresses_audit IS
    'One row per change of metrics.excluded_addresses: action, address, JWT sub and role.';
