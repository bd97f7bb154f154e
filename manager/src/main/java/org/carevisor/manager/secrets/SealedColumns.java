package org.carevisor.manager.secrets;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.jdbi.v3.core.Jdbi;

/**
 * The database columns that hold secrets, sealed with the {@link SecretBox}: the key is opened against the values
 * already stored (a missing or wrong key file stops the start with a message naming it), every sealed value is
 * checked to open, and plaintext values of older versions are sealed in place. Thread-safe (stateless).
 */
public final class SealedColumns {
    /** A column holding a secret, with the column that identifies its row. */
    public record Column(String table, String idColumn, String column) {
        /** The place a value of row {@code id} belongs to (authenticated with the sealed value). */
        public String where(String id) {
            return table + "." + column + ":" + id;
        }
    }

    /** BMC passwords of the hosts' fence agents. */
    public static final Column HOST_FENCE_SECRET = new Column("host_fence", "host_id", "secret");
    public static final List<Column> ALL = List.of(HOST_FENCE_SECRET);

    private SealedColumns() {
    }

    /** Opens (or on a database without sealed values, creates) the key in {@code keyFile}. */
    public static SecretBox openBox(Jdbi jdbi, Path keyFile) throws IOException {
        TreeSet<String> ids = new TreeSet<>();
        for (Column c : ALL) {
            for (String v : values(jdbi, c).values()) {
                if (SecretBox.sealed(v)) {
                    ids.add(SecretBox.keyIdOf(v));
                }
            }
        }
        return SecretBox.open(keyFile, ids);
    }

    /**
     * Checks that every sealed value opens and seals every plaintext value; returns how many were sealed (the
     * caller records that in the audit trail). A value that does not open stops the start, naming its row.
     */
    public static int sealPlaintext(Jdbi jdbi, SecretBox box) {
        int sealed = 0;
        for (Column c : ALL) {
            for (Map.Entry<String, String> e : values(jdbi, c).entrySet()) {
                String where = c.where(e.getKey());
                if (SecretBox.sealed(e.getValue())) {
                    box.open(where, e.getValue());
                    continue;
                }
                String value = box.seal(where, e.getValue());
                sealed += jdbi.withHandle(h -> h.createUpdate("UPDATE " + c.table() + " SET " + c.column()
                        + " = :v WHERE " + c.idColumn() + " = :id AND " + c.column() + " = :old").bind("v", value)
                        .bind("id", e.getKey()).bind("old", e.getValue()).execute());
            }
        }
        return sealed;
    }

    private static Map<String, String> values(Jdbi jdbi, Column c) {
        Map<String, String> out = new java.util.LinkedHashMap<>();
        jdbi.useHandle(h -> h.createQuery("SELECT " + c.idColumn() + " AS id, " + c.column() + " AS v FROM "
                + c.table() + " WHERE " + c.column() + " IS NOT NULL").map((rs, ctx) -> {
                    out.put(rs.getString("id"), rs.getString("v"));
                    return null;
                }).list());
        return out;
    }
}
