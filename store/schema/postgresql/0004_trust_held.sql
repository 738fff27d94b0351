-- 0004: every trust evaluation (each issuance among them) releases the certificates the trust
-- engine held for its subject. Without an index of those, that read walked all live certificates
-- of the device: a CI runner with thousands of short-lived workload certificates paid for all of
-- them on every issuance. Only held certificates are in this index.
CREATE INDEX certificates_trust_held ON certificates (device_id, serial) WHERE held_by_trust = 1;
