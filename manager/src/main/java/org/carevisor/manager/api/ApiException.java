package org.carevisor.manager.api;

import java.util.List;

/**
 * The manager's typed error: HTTP status, stable code and, for invalid input, the fields at fault.
 * Turned into an RFC 9457 problem document in one place ({@link Problems}).
 */
public class ApiException extends RuntimeException {
    /** One invalid field: its JSON path (e.g. {@code disks[0].sizeMiB}) and what is wrong with it. */
    public record FieldError(String field, String message) {
    }

    private final int status;
    private final String code;
    private final String title;
    private final List<FieldError> errors;
    private long retryAfterSeconds;

    public ApiException(int status, String code, String title, String detail, List<FieldError> errors) {
        super(detail);
        this.status = status;
        this.code = code;
        this.title = title;
        this.errors = errors == null ? List.of() : List.copyOf(errors);
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    public String title() {
        return title;
    }

    public List<FieldError> errors() {
        return errors;
    }

    /** This error with a {@code Retry-After} of {@code seconds} (429, 503): when trying again can succeed. */
    public ApiException retryAfter(long seconds) {
        this.retryAfterSeconds = Math.max(1, seconds);
        return this;
    }

    /** Seconds for the {@code Retry-After} header; 0: none. */
    public long retryAfterSeconds() {
        return retryAfterSeconds;
    }

    /** 400: the request names fields that are wrong. */
    public static ApiException invalid(List<FieldError> errors) {
        String detail = errors.stream().map(e -> e.field() + ": " + e.message())
                .reduce((a, b) -> a + "; " + b).orElse("invalid request");
        return new ApiException(400, "validation-failed", "The request is not valid", detail, errors);
    }

    public static ApiException invalid(String field, String message) {
        return invalid(List.of(new FieldError(field, message)));
    }

    public static ApiException notFound(String what, String id) {
        return new ApiException(404, "not-found", "Not found", what + " '" + id + "' does not exist", null);
    }

    public static ApiException conflict(String code, String detail) {
        return new ApiException(409, code, "Conflict with the current state", detail, null);
    }

    public static ApiException conflict(String code, String field, String detail) {
        return new ApiException(409, code, "Conflict with the current state", detail,
                List.of(new FieldError(field, detail)));
    }

    public static ApiException unavailable(String code, String detail) {
        return new ApiException(503, code, "Service unavailable", detail, null);
    }

    /** The API's form of a domain error: the status from its kind, its code and detail, the field at fault. */
    public static ApiException from(org.carevisor.manager.DomainException e) {
        return switch (e.kind()) {
            case INVALID -> e.field() == null ? new ApiException(400, e.code(), "The request is not valid",
                    e.getMessage(), null) : invalid(e.field(), e.getMessage());
            case NOT_FOUND -> new ApiException(404, e.code(), "Not found", e.getMessage(), null);
            case CONFLICT -> conflict(e.code(), e.getMessage());
            case UNAVAILABLE -> unavailable(e.code(), e.getMessage());
        };
    }
}
