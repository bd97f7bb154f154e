package org.carevisor.manager;

import java.io.IOException;
import java.security.cert.X509Certificate;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditAnchor;
import org.carevisor.manager.audit.AuditCheckpoints;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditTrust;
import org.carevisor.manager.audit.CheckpointKey;
import org.carevisor.manager.secrets.PrivateFiles;
import org.carevisor.manager.secrets.SealedColumns;
import org.carevisor.manager.secrets.SecretBox;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The keys the manager opens at start from its key directory (outside the data directory, mode 0700): the secrets
 * key, checked against the sealed values in the database (plaintext of older versions is sealed, and recorded),
 * and the checkpoint key. A missing or wrong key stops the start with a message naming the file.
 */
record ManagerKeys(SecretBox secrets, CheckpointKey checkpointKey, AuditAnchor anchor) {
    private static final Logger LOG = LoggerFactory.getLogger(ManagerKeys.class);

    static ManagerKeys open(ManagerConfig config, Jdbi jdbi, AuditLog audit) throws IOException {
        PrivateFiles.directory(config.keyDir());
        SecretBox secrets = SealedColumns.openBox(jdbi, config.keyDir().resolve("secrets.key"));
        CheckpointKey key = CheckpointKey.open(config.keyDir(), AuditCheckpoints.signedKeyId(jdbi));
        int sealed = SealedColumns.sealPlaintext(jdbi, secrets);
        if (sealed > 0) {
            audit.record(new AuditLog.Entry(Actor.system("manager"), "secrets.sealed", "manager", null, null, null,
                    java.util.Map.of("sealed", sealed, "keyFile", secrets.file().toString()),
                    "BMC passwords stored in plaintext by an older version sealed with AES-256-GCM",
                    AuditLog.Outcome.SUCCESS, null));
            LOG.info("sealed {} BMC password(s) stored in plaintext with the key in {}", sealed, secrets.file());
        }
        return new ManagerKeys(secrets, key, new AuditAnchor(config.auditAnchor()));
    }

    /** What checking the audit trail trusts; {@code ca} certified the checkpoints made before the chain. */
    AuditTrust trust(X509Certificate ca) {
        return new AuditTrust(checkpointKey, anchor, ca);
    }
}
