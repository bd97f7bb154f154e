package org.carevisor.manager.image;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.carevisor.manager.db.Sql;
import org.carevisor.manager.host.AgentCallException;
import org.carevisor.manager.host.AgentClient;
import org.carevisor.manager.host.HostBoard;
import org.carevisor.protocol.ImageInfo;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The image library: images found in the storage's {@code images/} directory, as reported by a host's
 * agent, with stable ids kept in the database. Thread-safe.
 */
public final class ImageCatalog {
    private static final Logger LOG = LoggerFactory.getLogger(ImageCatalog.class);
    private static final Duration FRESH = Duration.ofSeconds(5);

    private final Jdbi jdbi;
    private final HostBoard hosts;
    private final AgentClient agents;
    private volatile Instant lastRefresh = Instant.EPOCH;

    public ImageCatalog(Jdbi jdbi, HostBoard hosts, AgentClient agents) {
        this.jdbi = jdbi;
        this.hosts = hosts;
        this.agents = agents;
    }

    /** How many connected hosts are asked for the image library (bounded: the list is asked every few seconds). */
    static final int HOSTS_ASKED = 3;
    /** What an image's path must look like: a plain file name in the storage's {@code images/} directory. */
    private static final java.util.regex.Pattern IMAGE_PATH =
            java.util.regex.Pattern.compile("images/[^/.\\p{Cntrl}][^/\\p{Cntrl}]{0,254}");

    /**
     * Reads the image library from up to {@link #HOSTS_ASKED} connected hosts (longest known first) and records
     * what changed. An image is present when one of the hosts that answered lists it, so one host that answers
     * an empty or short list (a host whose storage mount failed, or a rogue enrolled host) does not empty the
     * library for all; a listed path that is not a plain file of {@code images/} is ignored and logged.
     */
    public synchronized void refresh() {
        List<HostBoard.Entry> connected = hosts.connectedHosts();
        Map<String, ImageInfo> byPath = new java.util.LinkedHashMap<>();
        int answered = 0;
        for (HostBoard.Entry host : connected.subList(0, Math.min(HOSTS_ASKED, connected.size()))) {
            try {
                for (ImageInfo i : agents.images(host.inventory().endpoint())) {
                    if (i == null || i.path() == null || !IMAGE_PATH.matcher(i.path()).matches()) {
                        LOG.warn("host {} listed an image outside images/ ({}); ignored", host.inventory().hostId(),
                                i == null ? null : shown(i.path()));
                        continue;
                    }
                    byPath.putIfAbsent(i.path(), i);
                }
                answered++;
            } catch (AgentCallException e) {
                LOG.warn("cannot read the image library from host {}: {}", host.inventory().hostId(), e.getMessage());
            }
        }
        if (answered == 0) {
            return;
        }
        List<ImageInfo> found = List.copyOf(byPath.values());
        Instant now = Instant.now();
        jdbi.useTransaction(h -> {
            Map<String, String> known = new HashMap<>();
            h.createQuery("SELECT path, id FROM images").map((rs, c) -> known.put(rs.getString("path"),
                    rs.getString("id"))).list();
            for (ImageInfo i : found) {
                String id = known.remove(i.path());
                if (id == null) {
                    String name = uniqueName(h, i.name());
                    h.createUpdate("""
                            INSERT INTO images (id, name, path, format, virtual_size, actual_size, present,
                                                discovered_at, updated_at)
                            VALUES (:id, :name, :path, :format, :vsize, :asize, TRUE, :now, :now)""")
                            .bind("id", UUID.randomUUID().toString()).bind("name", name).bind("path", i.path())
                            .bind("format", i.format()).bind("vsize", i.virtualSizeBytes())
                            .bind("asize", i.actualSizeBytes()).bind("now", Sql.ts(now)).execute();
                } else {
                    h.createUpdate("""
                            UPDATE images SET format = :format, virtual_size = :vsize, actual_size = :asize,
                              present = TRUE, updated_at = :now WHERE id = :id""")
                            .bind("id", id).bind("format", i.format()).bind("vsize", i.virtualSizeBytes())
                            .bind("asize", i.actualSizeBytes()).bind("now", Sql.ts(now)).execute();
                }
            }
            for (String gone : known.values()) {
                h.createUpdate("UPDATE images SET present = FALSE, updated_at = :now WHERE id = :id AND present")
                        .bind("id", gone).bind("now", Sql.ts(now)).execute();
            }
        });
        lastRefresh = now;
    }

    /** A host-given string fit for a log line: printable ASCII, at most 80 characters. */
    private static String shown(String s) {
        if (s == null) {
            return "no path";
        }
        String t = s.replaceAll("[^\\x20-\\x7e]", "?");
        return "'" + (t.length() > 80 ? t.substring(0, 80) + "..." : t) + "'";
    }

    private static String uniqueName(org.jdbi.v3.core.Handle h, String base) {
        String name = base;
        for (int i = 2; h.createQuery("SELECT COUNT(*) FROM images WHERE name = :n").bind("n", name)
                .mapTo(Integer.class).one() > 0; i++) {
            name = base + "-" + i;
        }
        return name;
    }

    /** Present images, refreshed from the storage when the last look is older than a few seconds. */
    public List<ImageRecord> list() {
        if (lastRefresh.isBefore(Instant.now().minus(FRESH))) {
            refresh();
        }
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM images WHERE present ORDER BY name")
                .map((rs, c) -> map(rs)).list());
    }

    /** An image by id or name. */
    public Optional<ImageRecord> resolve(String idOrName) {
        return list().stream().filter(i -> i.id().equals(idOrName) || i.name().equals(idOrName)).findFirst();
    }

    private static ImageRecord map(java.sql.ResultSet rs) throws java.sql.SQLException {
        return new ImageRecord(rs.getString("id"), rs.getString("name"), rs.getString("path"), rs.getString("format"),
                rs.getLong("virtual_size"), rs.getLong("actual_size"), rs.getBoolean("present"),
                Sql.instant(rs, "discovered_at"), Sql.instant(rs, "updated_at"));
    }
}
