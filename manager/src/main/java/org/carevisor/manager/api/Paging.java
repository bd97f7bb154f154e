package org.carevisor.manager.api;

import io.javalin.http.Context;

/**
 * The {@code limit} and {@code offset} query parameters of list endpoints, validated against fixed ranges
 * (400 naming the parameter otherwise): a list never returns everything because a limit was negative or huge.
 */
record Paging(int limit, int offset) {
    /** Largest offset any list accepts. */
    static final int MAX_OFFSET = 1_000_000;

    /** {@code limit} in 1..{@code maxLimit} (default {@code defaultLimit}), {@code offset} in 0..{@value #MAX_OFFSET}. */
    static Paging of(Context ctx, int defaultLimit, int maxLimit) {
        return new Paging(number(ctx, "limit", defaultLimit, 1, maxLimit), number(ctx, "offset", 0, 0, MAX_OFFSET));
    }

    /** Only {@code limit}: for lists without an offset. */
    static int limit(Context ctx, int defaultLimit, int maxLimit) {
        return number(ctx, "limit", defaultLimit, 1, maxLimit);
    }

    static int number(Context ctx, String name, int fallback, int min, int max) {
        String v = ctx.queryParam(name);
        if (v == null || v.isEmpty()) {
            return fallback;
        }
        long n;
        try {
            n = Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw ApiException.invalid(name, "must be a whole number from " + min + " to " + max + ", not '"
                    + abbreviate(v) + "'");
        }
        if (n < min || n > max) {
            throw ApiException.invalid(name, "must be from " + min + " to " + max + ", not " + n);
        }
        return (int) n;
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }
}
