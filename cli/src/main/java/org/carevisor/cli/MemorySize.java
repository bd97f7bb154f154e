package org.carevisor.cli;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * A memory or disk size on the command line, in MiB: a number means MiB ({@code 512}), or a number with a unit
 * ({@code 512M}, {@code 512MiB}, {@code 2G}, {@code 2GiB}, {@code 1T}; binary units). Thread-safe (stateless).
 */
final class MemorySize implements CommandLine.ITypeConverter<Integer> {
    private static final Pattern SIZE = Pattern.compile("([0-9]{1,10})\\s*(|m|mb|mib|g|gb|gib|t|tb|tib)");

    @Override
    public Integer convert(String value) {
        return (int) Math.min(Integer.MAX_VALUE, mib(value));
    }

    /** The size in MiB; refuses anything else with a message that says what is accepted. */
    static long mib(String value) {
        Matcher m = SIZE.matcher(value == null ? "" : value.strip().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new CommandLine.TypeConversionException("'" + value + "' is not a size: give MiB (e.g. 512) or a"
                    + " number with a unit (512M, 2G, 1T)");
        }
        long n = java.lang.Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "g", "gb", "gib" -> n * 1024;
            case "t", "tb", "tib" -> n * 1024 * 1024;
            default -> n;
        };
    }

    /** The same for {@code Long} options (disk sizes). */
    static final class Mib implements CommandLine.ITypeConverter<java.lang.Long> {
        @Override
        public java.lang.Long convert(String value) {
            return mib(value);
        }
    }
}
