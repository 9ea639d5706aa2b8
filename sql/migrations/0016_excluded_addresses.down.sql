DROP TABLE IF EXISTS metrics.excluded_addresses_audit;
DROP TABLE IF EXISTS metrics.excluded_addresses;
DROP FUNCTION IF EXISTS metrics.audit_excluded_address();
