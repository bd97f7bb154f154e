package org.carevisor.manager.audit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * The hash chain of the audit trail. Each record's hash is
 * {@code SHA-256(prev_hash + "\n" + canonical form)}, where the canonical form is a JSON array of every
 * field in a fixed order (version tag, sequence number, time, actor, actor id, action, target type, id and
 * name, old and new value as stored, reason, outcome, client address, task, signer, meaning, signing time)
 * and {@code prev_hash} is the previous record's hash (64 zeros for the first). Changing any field of a
 * record, removing a record or changing the order breaks the chain at that record.
 */
public final class AuditChain {
    public static final String GENESIS = "0".repeat(64);
    private static final ObjectMapper JSON = new ObjectMapper();

    private AuditChain() {
    }

    public static String canonical(AuditRecord r) {
        List<Object> fields = new ArrayList<>(Arrays.asList("carevisor-audit-v1", r.seq(),
                r.at() == null ? null : r.at().toString(), r.actor(), r.actorId(), r.action(), r.targetType(),
                r.targetId(), r.targetName(), r.oldValue(), r.newValue(), r.reason(), r.outcome(), r.clientAddress(),
                r.taskId()));
        AuditRecord.SignatureView s = r.signature();
        fields.add(s == null ? null : s.printedName());
        fields.add(s == null ? null : s.meaning());
        fields.add(s == null || s.signedAt() == null ? null : s.signedAt().toString());
        try {
            return JSON.writeValueAsString(fields);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static String hash(String prevHash, String canonical) {
        MessageDigest d = sha256();
        d.update(prevHash.getBytes(StandardCharsets.US_ASCII));
        d.update((byte) '\n');
        d.update(canonical.getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(d.digest());
    }

    /** The hash a record should have after {@code prevHash}. */
    public static String hashOf(String prevHash, AuditRecord r) {
        return hash(prevHash, canonical(r));
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
