package org.carevisor.agent.storage;

import java.util.regex.Pattern;
import org.carevisor.agent.AgentException;

/**
 * The agent's rules for every name and path that comes with an export or import: disk ids, formats, member
 * names inside an export file, the export file's own path and the directory an import goes to. A value that
 * breaks a rule is refused before it is joined into any path. Pure and thread-safe.
 */
public final class ExportNames {
    /** A disk id inside an export: a letter, then letters, digits, '_' or '-' (at most 31; no '.' or '/'). */
    static final Pattern DISK_ID = Pattern.compile("[A-Za-z][A-Za-z0-9_-]{0,30}");
    /** A file name in {@code exports/}: no path, no leading dot, ends in {@code .cva}. */
    static final Pattern EXPORT_FILE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]*(\\.[A-Za-z0-9_-]+)*\\.cva");
    static final int EXPORT_FILE_MAX = 200;
    private static final String UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
    private static final Pattern ARCHIVE_FILE = Pattern.compile("archive/" + UUID + "\\.cva");
    private static final Pattern VM_DIR = Pattern.compile("(local/)?vms/" + UUID);

    private ExportNames() {
    }

    /** The disk formats an export may hold. */
    public static boolean isFormat(String format) {
        return "qcow2".equals(format) || "raw".equals(format);
    }

    public static boolean isDiskId(String id) {
        return id != null && DISK_ID.matcher(id).matches();
    }

    /** The one member name a disk may have inside an export file. */
    public static String member(String diskId, String format) {
        if (!isDiskId(diskId)) {
            throw AgentException.badRequest("invalid-disk-id", "disk id '" + printable(diskId) + "' must be a letter"
                    + " followed by at most 30 letters, digits, '_' or '-'");
        }
        if (!isFormat(format)) {
            throw AgentException.badRequest("invalid-format", "disk format must be qcow2 or raw, not '"
                    + printable(format) + "'");
        }
        return "disks/" + diskId + "." + format;
    }

    /** True for a bare export file name (no directory) that may live in {@code exports/}. */
    public static boolean isExportFileName(String name) {
        return name != null && name.length() <= EXPORT_FILE_MAX && EXPORT_FILE.matcher(name).matches();
    }

    /**
     * Checks the storage-relative path of an export file an import reads: {@code exports/<file>.cva}, or
     * {@code archive/<vm-uuid>.cva} for a restore. Anything else (a VM's disk, another directory, a path with
     * {@code ..}) is refused with 400 {@code import-source-refused}.
     */
    public static String importSource(String source) {
        if (source != null && (source.startsWith("exports/") && isExportFileName(source.substring(8))
                || ARCHIVE_FILE.matcher(source).matches())) {
            return source;
        }
        throw AgentException.badRequest("import-source-refused", "an import reads only a file in exports/ (a"
                + " name like exports/ehr-01.cva) or an archive archive/<vm-id>.cva, not '" + printable(source) + "'");
    }

    /** Checks where an export is written: {@code exports/<file>.cva} or {@code archive/<vm-uuid>.cva}. */
    public static String exportTarget(String target) {
        if (target != null && (target.startsWith("exports/") && isExportFileName(target.substring(8))
                || ARCHIVE_FILE.matcher(target).matches())) {
            return target;
        }
        throw AgentException.badRequest("invalid-export-target", "an export is written only as exports/<name>.cva"
                + " or archive/<vm-id>.cva, not '" + printable(target) + "'");
    }

    /** Checks the directory an import places its disks in: {@code vms/<vm-uuid>} (or on local storage). */
    public static String importTarget(String targetDir) {
        if (targetDir != null && VM_DIR.matcher(targetDir).matches()) {
            return targetDir;
        }
        throw AgentException.badRequest("invalid-import-target", "an import places its disks only in vms/<vm-id>,"
                + " not '" + printable(targetDir) + "'");
    }

    /** A value as it may appear in a message: control characters escaped, at most 120 characters. */
    static String printable(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length() && out.length() < 120; i++) {
            char c = s.charAt(i);
            out.append(Character.isISOControl(c) ? String.format("\\u%04x", (int) c) : String.valueOf(c));
        }
        return s.length() > 120 ? out + "..." : out.toString();
    }
}
