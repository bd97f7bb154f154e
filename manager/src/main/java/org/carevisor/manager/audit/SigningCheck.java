package org.carevisor.manager.audit;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.carevisor.manager.audit.AuditCheckpoints.Checkpoint;
import org.carevisor.manager.audit.AuditVerifier.Problem;

/**
 * What the manager checks before it signs a new checkpoint: the trail from the last anchored checkpoint up to the
 * head - the anchored checkpoint is still in the database, the checkpoints after it are chained to it and signed
 * with the checkpoint key, the head is not older than it, and every record from it to the head is intact and
 * linked. Without an anchor (a new trail, or one of a version before the chain) it checks from the newest
 * checkpoint made before the chain, or from the first record. Reads only the records since the anchor: cheap
 * enough for every checkpoint. Stateless.
 */
final class SigningCheck {
    private static final int MAX_PROBLEMS = 20;

    /** The problems found (none: the head may be signed) and what the next checkpoint links to. */
    record Result(List<Problem> problems, String prev) {
        boolean ok() {
            return problems.isEmpty();
        }
    }

    private SigningCheck() {
    }

    static Result run(AuditLog audit, AuditTrust trust, AuditLog.Head head, String trail) {
        List<Problem> problems = new ArrayList<>();
        String file = trust.anchor().file().toString();
        AuditAnchor.Entry anchored;
        try {
            anchored = trust.anchor().last();
        } catch (IOException | IllegalArgumentException e) {
            problems.add(new Problem(head.seq(), "anchor", "the anchor file " + file + " cannot be read: "
                    + e.getMessage()));
            return new Result(problems, null);
        }
        long from;
        String fromHash;
        String prev;
        Map<Long, Checkpoint> fixed = new HashMap<>();
        if (anchored == null) {
            Checkpoint last = AuditCheckpoints.latestChained(audit);
            if (last != null) {
                problems.add(new Problem(last.seq(), "anchor", "the database holds "
                        + AuditCheckpoints.countChained(audit) + " chained checkpoint(s), the newest for record "
                        + last.seq() + " signed at " + last.signedAt() + ", but the anchor file " + file + " is"
                        + " missing or empty: restore it from its backup or copy (syslog received every checkpoint"
                        + " too)"));
                return new Result(problems, null);
            }
            // a new trail, or one of a version before the chain: from its newest checkpoint, or the first record
            prev = AuditCheckpoints.legacyLink(audit);
            Checkpoint lc = AuditCheckpoints.latest(audit);
            if (lc == null) {
                from = 1;
                fromHash = null;
            } else {
                String bad = CheckpointChain.checkLegacy(lc, trust.legacyCa());
                if (bad != null) {
                    problems.add(new Problem(lc.seq(), "signature", "the checkpoint signed at " + lc.signedAt()
                            + " for record " + lc.seq() + " is not valid: " + bad));
                }
                from = lc.seq();
                fromHash = lc.hash();
            }
        } else {
            Checkpoint a = anchored.checkpoint();
            String where = "the anchor file " + file + " holds the checkpoint for record " + a.seq() + " signed at "
                    + a.signedAt();
            if (!trail.equals(anchored.trail())) {
                problems.add(new Problem(a.seq(), "anchor", "the anchor file " + file + " belongs to audit trail "
                        + anchored.trail() + ", but this database's trail is " + trail + ": either this manager was"
                        + " given another manager's anchor file (set --audit-anchor to its own), or the trail id in"
                        + " the database was changed"));
                return new Result(problems, null);
            }
            String bad = CheckpointChain.check(a, trail, trust.key());
            if (bad != null) {
                problems.add(new Problem(a.seq(), "anchor", "the last line of the anchor file " + file
                        + " (the checkpoint for record " + a.seq() + ") is not valid: " + bad));
                return new Result(problems, null);
            }
            List<Checkpoint> since = AuditCheckpoints.from(audit, a.seq());
            if (since.isEmpty() || !a.checkpointHash().equals(since.getFirst().checkpointHash())) {
                problems.add(new Problem(a.seq(), "checkpoint-missing", where + ", but the database no longer has"
                        + " that checkpoint: it was removed"));
            } else {
                String link = a.checkpointHash();
                for (Checkpoint c : since.subList(1, since.size())) {
                    if (c.version() == 1) {
                        problems.add(new Problem(c.seq(), "checkpoint-chain", "the checkpoint for record " + c.seq()
                                + " is of the kind made before the chain, but appears after the anchored checkpoint"
                                + " for record " + a.seq() + ": it was added outside Carevisor"));
                        continue;
                    }
                    String cbad = CheckpointChain.check(c, trail, trust.key());
                    if (cbad != null) {
                        problems.add(new Problem(c.seq(), "signature", "the checkpoint signed at " + c.signedAt()
                                + " for record " + c.seq() + " is not valid: " + cbad));
                    } else if (!link.equals(c.prevCheckpoint())) {
                        problems.add(new Problem(c.seq(), "checkpoint-chain", "the checkpoint for record " + c.seq()
                                + " signed at " + c.signedAt() + " does not follow the checkpoint before it: a"
                                + " checkpoint was removed or changed"));
                    }
                    link = c.checkpointHash();
                    fixed.put(c.seq(), c);
                }
            }
            if (head.seq() < a.seq()) {
                problems.add(new Problem(a.seq(), "head-behind-anchor", "the chain head is record " + head.seq()
                        + ", but " + where + ": records " + (head.seq() + 1) + "-" + a.seq()
                        + " and their checkpoint(s) were removed"));
            }
            if (!problems.isEmpty()) {
                return new Result(problems, null);
            }
            from = a.seq();
            fromHash = a.hash();
            prev = since.getLast().checkpointHash();
        }
        Checkpoint newest = AuditCheckpoints.latest(audit);
        if (newest != null && head.seq() < newest.seq()) {
            problems.add(new Problem(newest.seq(), "removed", "the chain head is record " + head.seq() + ", but a"
                    + " checkpoint signed at " + newest.signedAt() + " covers records up to " + newest.seq()
                    + ": the last records were removed"));
            return new Result(problems, null);
        }
        walk(audit, from, fromHash, head, fixed, problems);
        return new Result(problems, problems.isEmpty() ? prev : null);
    }

    /** Checks the records {@code from..head}: contiguous, each intact and linked, ending at the head. */
    private static void walk(AuditLog audit, long from, String fromHash, AuditLog.Head head,
                             Map<Long, Checkpoint> fixed, List<Problem> problems) {
        if (head.seq() < from) {
            return;
        }
        long[] expected = {from};
        String[] prevHash = {fromHash == null ? AuditChain.GENESIS : null};
        String[] lastHash = {null};
        audit.streamRange(from, head.seq(), r -> {
            if (problems.size() >= MAX_PROBLEMS) {
                return;
            }
            if (r.seq() != expected[0]) {
                problems.add(new Problem(expected[0], "removed", r.seq() - expected[0] == 1 ? "record " + expected[0]
                        + " is missing" : "records " + expected[0] + "-" + (r.seq() - 1) + " are missing"));
                prevHash[0] = null;
            }
            boolean selfOk = r.hash() != null && r.prevHash() != null
                    && AuditChain.hashOf(r.prevHash(), r).equals(r.hash());
            if (!selfOk) {
                problems.add(new Problem(r.seq(), "altered", "record " + r.seq() + " was changed after it was"
                        + " written: its content no longer matches its hash"));
            } else if (r.seq() == from && fromHash != null && !fromHash.equals(r.hash())) {
                problems.add(new Problem(r.seq(), "rewritten", "record " + r.seq() + " no longer has the hash its"
                        + " checkpoint signed: the chain was rewritten (hashes recomputed)"));
            } else if (prevHash[0] != null && !prevHash[0].equals(r.prevHash())) {
                problems.add(new Problem(r.seq(), "altered", "record " + r.seq() + " does not follow record "
                        + (r.seq() - 1) + ": a record before it was altered or replaced"));
            }
            Checkpoint c = fixed.get(r.seq());
            if (c != null && !c.hash().equals(r.hash())) {
                problems.add(new Problem(r.seq(), "rewritten", "record " + r.seq() + " no longer has the hash signed"
                        + " at " + c.signedAt() + ": the chain up to it was rewritten"));
            }
            prevHash[0] = r.hash();
            lastHash[0] = r.hash();
            expected[0] = r.seq() + 1;
        });
        if (problems.size() >= MAX_PROBLEMS) {
            return;
        }
        if (expected[0] <= head.seq()) {
            problems.add(new Problem(expected[0], "removed", "the chain head names record " + head.seq()
                    + ", but the trail ends at record " + (expected[0] - 1) + ": the last records were removed"));
        } else if (lastHash[0] != null && !lastHash[0].equals(head.hash())) {
            problems.add(new Problem(head.seq(), "altered", "record " + head.seq() + " is not the record the chain"
                    + " head names"));
        }
    }
}
