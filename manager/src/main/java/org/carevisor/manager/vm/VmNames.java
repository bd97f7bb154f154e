package org.carevisor.manager.vm;

import java.util.regex.Pattern;

/** Rules for VM names: safe in file names, URLs, shells and QEMU options. */
public final class VmNames {
    public static final int MAX_LENGTH = 63;
    private static final Pattern ALLOWED = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

    private VmNames() {
    }

    /** Null when the name is acceptable, else what is wrong with it. */
    public static String problem(String name) {
        if (name == null || name.isEmpty()) {
            return "is required";
        }
        for (char c : name.toCharArray()) {
            if (Character.isISOControl(c)) {
                return "must not contain control characters (found U+" + String.format("%04X", (int) c) + ")";
            }
        }
        if (name.contains("/") || name.contains("\\")) {
            return "must not contain '/' or '\\'";
        }
        if (name.contains("..")) {
            return "must not contain '..'";
        }
        if (name.length() > MAX_LENGTH) {
            return "must be at most " + MAX_LENGTH + " characters long (has " + name.length() + ")";
        }
        if (!ALLOWED.matcher(name).matches()) {
            int bad = name.codePoints().filter(c -> !(c < 128 && (Character.isLetterOrDigit(c) || c == '.' || c == '_'
                    || c == '-'))).findFirst().orElse(name.codePointAt(0));
            return "may use only the ASCII letters A-Z and a-z, digits 0-9, '.', '_' and '-', and must start with a"
                    + " letter or digit (found U+" + String.format("%04X", bad) + "): the name is the VM's identifier"
                    + " in commands, file names and the audit trail. Umlauts, accents and other scripts belong in the"
                    + " description (e.g. name roentgen-01, description in the department's own spelling)";
        }
        return null;
    }
}
