package org.carevisor.manager.transfer;

import java.util.regex.Pattern;
import org.carevisor.manager.api.ApiException;

/**
 * The one kind of file {@code POST /vm-imports} reads: a file name in the storage's {@code exports/}
 * directory ({@code ehr-01-20261122-101500.cva}, also accepted as {@code exports/ehr-01-...cva}). No other
 * directory (not {@code archive/}, not a VM's disk), no path, no hidden file. Pure and thread-safe.
 */
public final class ExportFileName {
    static final int MAX_LENGTH = 200;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]*(\\.[A-Za-z0-9_-]+)*\\.cva");
    private static final String DIR = "exports/";

    private ExportFileName() {
    }

    /** The storage-relative path ({@code exports/<name>}) of the request's {@code file}; 400 naming it otherwise. */
    public static String of(String file) {
        if (file == null || file.isBlank()) {
            throw ApiException.invalid("file", "is required: the name of an export file in exports/, e.g."
                    + " ehr-01-20261122-101500.cva");
        }
        String name = file.startsWith(DIR) ? file.substring(DIR.length()) : file;
        if (name.length() > MAX_LENGTH || !NAME.matcher(name).matches()) {
            throw new ApiException(400, "import-source-refused", "The file cannot be imported", "an import reads only"
                    + " a file in the storage's exports/ directory, given by its name (letters, digits, '.', '_', '-',"
                    + " ending in .cva, at most " + MAX_LENGTH + " characters), not '" + printable(file) + "'",
                    java.util.List.of(new ApiException.FieldError("file", "must be the name of a .cva file in exports/")));
        }
        return DIR + name;
    }

    private static String printable(String s) {
        StringBuilder out = new StringBuilder();
        s.chars().limit(120).forEach(c -> out.append(Character.isISOControl(c) ? '?' : (char) c));
        return s.length() > 120 ? out + "..." : out.toString();
    }
}
