package org.carevisor.manager.audit;

import java.security.cert.X509Certificate;

/**
 * What checking the audit trail trusts, none of it kept in the database: the checkpoint key, the anchor file,
 * and the CA that certified the manager keys of checkpoints made before the chain (null: none to check).
 */
public record AuditTrust(CheckpointKey key, AuditAnchor anchor, X509Certificate legacyCa) {
}
