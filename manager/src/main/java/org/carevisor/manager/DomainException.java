package org.carevisor.manager;

/**
 * A typed error of the manager's domain code, with a stable code: what the API turns into a problem document (400,
 * 404, 409, 503) without the domain knowing HTTP. New domain packages throw this instead of the API's own error.
 */
public final class DomainException extends RuntimeException {
    /** What kind of refusal it is (the API picks the status from it). */
    public enum Kind {
        /** The request itself is wrong ({@link #field} names what). */
        INVALID,
        /** What the request names does not exist. */
        NOT_FOUND,
        /** The request conflicts with the current state. */
        CONFLICT,
        /** Something needed is not reachable now; trying later can succeed. */
        UNAVAILABLE
    }

    private final Kind kind;
    private final String code;
    private final String field;

    private DomainException(Kind kind, String code, String field, String detail) {
        super(detail);
        this.kind = kind;
        this.code = code;
        this.field = field;
    }

    public static DomainException invalid(String field, String detail) {
        return new DomainException(Kind.INVALID, "validation-failed", field, detail);
    }

    public static DomainException notFound(String what, String id) {
        return new DomainException(Kind.NOT_FOUND, "not-found", null, what + " '" + id + "' does not exist");
    }

    public static DomainException conflict(String code, String detail) {
        return new DomainException(Kind.CONFLICT, code, null, detail);
    }

    public static DomainException unavailable(String code, String detail) {
        return new DomainException(Kind.UNAVAILABLE, code, null, detail);
    }

    public Kind kind() {
        return kind;
    }

    public String code() {
        return code;
    }

    /** The request field at fault (for {@link Kind#INVALID}), else null. */
    public String field() {
        return field;
    }
}
