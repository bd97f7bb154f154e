package org.carevisor.manager.audit;

import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.pdfbox.io.IOUtils;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.pdmodel.PDPage;
import org.apache.pdfbox.pdmodel.PDPageContentStream;
import org.apache.pdfbox.pdmodel.common.PDRectangle;
import org.apache.pdfbox.pdmodel.font.PDType1Font;
import org.apache.pdfbox.pdmodel.font.Standard14Fonts;

/**
 * Exports of the audit trail for review: CSV (one line per record, every field, for spreadsheets and
 * archives; written record by record, so any number of records goes out with bounded memory) and PDF (a
 * readable report with the query, the chain status, and for every record time, user, action, object, old and
 * new value, reason, outcome and the signature's printed name, time and meaning; every value is wrapped over
 * as many lines and pages as it needs, nothing is cut). Not thread-safe: one writer per export.
 */
public final class AuditExport {
    static final String[] CSV_HEADER = {"seq", "time_utc", "user", "user_id", "action", "target_type", "target_id",
        "target_name", "old_value", "new_value", "reason", "outcome", "client_address", "task_id",
        "signed_by", "signature_meaning", "signed_at", "hash"};

    /** The most pages a PDF report may have; a larger one is refused before anything is sent. */
    public static final int PDF_MAX_PAGES = 5_000;

    private AuditExport() {
    }

    /** Writes a CSV (RFC 4180, UTF-8) of the records. */
    public static void csv(List<AuditRecord> records, OutputStream out) throws IOException {
        Csv csv = new Csv(out);
        for (AuditRecord r : records) {
            csv.write(r);
        }
        csv.finish();
    }

    /** A CSV written one record at a time (the header first). */
    public static final class Csv {
        private final Writer w;

        public Csv(OutputStream out) throws IOException {
            this.w = new OutputStreamWriter(out, StandardCharsets.UTF_8);
            w.write(String.join(",", CSV_HEADER));
            w.write("\r\n");
        }

        public void write(AuditRecord r) throws IOException {
            AuditRecord.SignatureView s = r.signature();
            String[] f = {String.valueOf(r.seq()), str(r.at()), r.actor(), r.actorId(), r.action(), r.targetType(),
                r.targetId(), r.targetName(), r.oldValue(), r.newValue(), r.reason(), r.outcome(), r.clientAddress(),
                r.taskId(), s == null ? null : s.printedName(), s == null ? null : s.meaning(),
                s == null ? null : str(s.signedAt()), r.hash()};
            for (int i = 0; i < f.length; i++) {
                if (i > 0) {
                    w.write(',');
                }
                w.write(i == 0 ? f[i] : quote(f[i]));
            }
            w.write("\r\n");
        }

        public void finish() throws IOException {
            w.flush();
        }
    }

    /**
     * One CSV field. A value that a spreadsheet program would run as a formula or that could start a cell with a
     * control character - a leading {@code =}, {@code +}, {@code -}, {@code @}, TAB, CR or LF (OWASP CSV
     * injection) - is prefixed with {@code '} and quoted; the value itself is kept whole after that mark.
     */
    static String quote(String v) {
        if (v == null) {
            return "";
        }
        String safe = !v.isEmpty() && "=+-@\t\r\n".indexOf(v.charAt(0)) >= 0 ? "'" + v : v;
        if (safe.contains(",") || safe.contains("\"") || safe.contains("\n") || safe.contains("\r") || !safe.equals(v)) {
            return "\"" + safe.replace("\"", "\"\"") + "\"";
        }
        return safe;
    }

    /** Writes a PDF report of the records. */
    public static void pdf(List<AuditRecord> records, String title, List<String> header, OutputStream out)
            throws IOException {
        try (Pdf pdf = new Pdf(title, header)) {
            for (AuditRecord r : records) {
                pdf.write(r);
            }
            pdf.finish(out);
        }
    }

    /** Thrown when a PDF report would exceed {@link #PDF_MAX_PAGES}. */
    public static final class TooLarge extends IOException {
        public TooLarge(String message) {
            super(message);
        }
    }

    /**
     * A PDF report written one record at a time. The pages' content goes to a temporary file (PDFBox's stream
     * cache), not the heap; the document is sent by {@link #finish} once it is complete.
     */
    public static final class Pdf implements AutoCloseable {
        private final PDDocument doc;
        private final String title;
        private final Page page;
        private int count;

        public Pdf(String title, List<String> header) throws IOException {
            this.doc = new PDDocument(IOUtils.createTempFileOnlyStreamCache());
            this.title = title;
            this.page = new Page(doc);
            page.wrapped(title, 13, true, "");
            for (String h : header) {
                page.wrapped(h, 9, false, "");
            }
            page.wrapped("Characters the report's font cannot show are written as \\u{hex code}.", 8, false, "");
            page.gap();
        }

        public void write(AuditRecord r) throws IOException {
            count++;
            page.keep(4);
            page.wrapped("#" + r.seq() + "  " + str(r.at()) + "  " + r.action() + "  " + r.outcome().toUpperCase(),
                    9.5f, true, "");
            page.wrapped("user: " + r.actor() + (r.clientAddress() == null ? "" : " from " + r.clientAddress())
                    + "    object: " + (r.targetType() == null ? "-" : r.targetType()) + " "
                    + (r.targetName() == null ? nz(r.targetId()) : r.targetName())
                    + (r.taskId() == null ? "" : "    task: " + r.taskId()), 8.5f, false, "    ");
            if (r.oldValue() != null) {
                page.wrapped("before: " + r.oldValue(), 8.5f, false, "    ");
            }
            if (r.newValue() != null) {
                page.wrapped("after: " + r.newValue(), 8.5f, false, "    ");
            }
            if (r.reason() != null) {
                page.wrapped("reason: " + r.reason(), 8.5f, false, "    ");
            }
            if (r.signature() != null) {
                page.wrapped("ELECTRONIC SIGNATURE: " + r.signature().printedName() + ", "
                        + str(r.signature().signedAt()) + ", meaning: " + r.signature().meaning(), 8.5f, false, "    ");
            }
            page.gap();
            if (doc.getNumberOfPages() > PDF_MAX_PAGES) {
                throw new TooLarge("the report would have more than " + PDF_MAX_PAGES + " pages (at record #"
                        + r.seq() + "); narrow the query (from, to, user, object, action) or export CSV");
            }
        }

        /** Numbers the pages and writes the document to {@code out}. */
        public void finish(OutputStream out) throws IOException {
            if (count == 0) {
                page.wrapped("No records match this query.", 10, false, "");
            }
            page.close();
            int n = doc.getNumberOfPages();
            for (int i = 0; i < n; i++) {
                PDPage p = doc.getPage(i);
                try (PDPageContentStream cs = new PDPageContentStream(doc, p, PDPageContentStream.AppendMode.APPEND,
                        true)) {
                    cs.beginText();
                    cs.setFont(Page.REGULAR, 8);
                    cs.newLineAtOffset(Page.MARGIN, 20);
                    cs.showText(Page.fit(latin1("Carevisor audit trail - " + title), 8, Page.REGULAR,
                            p.getMediaBox().getWidth() - 2 * Page.MARGIN - 80) + " - page " + (i + 1) + " of " + n);
                    cs.endText();
                }
            }
            doc.save(out);
        }

        @Override
        public void close() throws IOException {
            doc.close();
        }
    }

    /** One page after another, with line wrapping. */
    private static final class Page {
        static final PDType1Font REGULAR = new PDType1Font(Standard14Fonts.FontName.HELVETICA);
        static final PDType1Font BOLD = new PDType1Font(Standard14Fonts.FontName.HELVETICA_BOLD);
        static final float MARGIN = 40;
        private final PDDocument doc;
        private PDPageContentStream cs;
        private float y;
        private float width;

        Page(PDDocument doc) throws IOException {
            this.doc = doc;
            next();
        }

        private void next() throws IOException {
            if (cs != null) {
                cs.close();
            }
            PDRectangle size = new PDRectangle(PDRectangle.A4.getHeight(), PDRectangle.A4.getWidth()); // landscape
            PDPage p = new PDPage(size);
            doc.addPage(p);
            cs = new PDPageContentStream(doc, p);
            y = size.getHeight() - MARGIN;
            width = size.getWidth() - 2 * MARGIN;
        }

        void keep(int lines) throws IOException {
            if (y - lines * 12 < MARGIN + 10) {
                next();
            }
        }

        void gap() {
            y -= 5;
        }

        private void line(String text, float size, boolean bold) throws IOException {
            keep(1);
            cs.beginText();
            cs.setFont(bold ? BOLD : REGULAR, size);
            cs.newLineAtOffset(MARGIN, y);
            cs.showText(text);
            cs.endText();
            y -= size + 3;
        }

        /** Shows all of {@code text}, over as many lines (and pages) as it needs; later lines are indented. */
        void wrapped(String text, float size, boolean bold, String indent) throws IOException {
            PDType1Font font = bold ? BOLD : REGULAR;
            boolean first = true;
            for (String paragraph : latin1(text).split("\n", -1)) {
                for (String l : wrap(paragraph, size, font, width, first ? "" : indent + "  ")) {
                    line((first ? indent : "") + l, size, bold);
                    first = false;
                }
            }
        }

        /**
         * Splits {@code text} into lines no wider than {@code max} (after {@code continuation} on every line but
         * the first), breaking at the last space that fits, or inside a word longer than a line. Every character
         * of {@code text} is in exactly one line.
         */
        static List<String> wrap(String text, float size, PDType1Font font, float max, String continuation)
                throws IOException {
            List<String> out = new ArrayList<>();
            float limit = max - 20;
            int start = 0;
            String prefix = "";
            while (start < text.length() || out.isEmpty()) {
                float w = width(prefix, size, font);
                int end = start;
                int lastSpace = -1;
                while (end < text.length()) {
                    float cw = width(text.charAt(end), size, font);
                    if (w + cw > limit && end > start) {
                        break;
                    }
                    w += cw;
                    if (text.charAt(end) == ' ') {
                        lastSpace = end;
                    }
                    end++;
                }
                if (end < text.length() && lastSpace > start) {
                    end = lastSpace + 1;
                }
                out.add(prefix + text.substring(start, end));
                start = end;
                prefix = continuation;
            }
            return out;
        }

        /** {@code text} cut to {@code max} with "..." (only for the page footer, which repeats the title). */
        static String fit(String text, float size, PDType1Font font, float max) throws IOException {
            if (width(text, size, font) <= max) {
                return text;
            }
            String t = text;
            while (!t.isEmpty() && width(t + "...", size, font) > max) {
                t = t.substring(0, t.length() - 1);
            }
            return t + "...";
        }

        private static float width(String s, float size, PDType1Font font) throws IOException {
            float w = 0;
            for (int i = 0; i < s.length(); i++) {
                w += width(s.charAt(i), size, font);
            }
            return w;
        }

        /** Character widths per font (regular, bold); filled on first use (a race only writes the same value). */
        private static final float[][] WIDTHS = new float[2][256];

        private static float width(char c, float size, PDType1Font font) throws IOException {
            float[] table = WIDTHS[font == BOLD ? 1 : 0];
            if (table[c & 0xff] == 0) {
                table[c & 0xff] = Math.max(1, font.getStringWidth(String.valueOf(c)));
            }
            return table[c & 0xff] / 1000 * size;
        }

        void close() throws IOException {
            cs.close();
        }
    }

    /**
     * Text the standard PDF fonts can show, without losing anything: Latin-1 stays; a tab becomes a space; line
     * breaks stay (the report starts a new line); every other character - control characters, other scripts,
     * emoji - is written as {@code \\u{hex}}.
     */
    static String latin1(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            if (c >= 32 && c < 127 || c >= 160 && c <= 255 || c == '\n') {
                b.append((char) c);
            } else if (c == '\t') {
                b.append(' ');
            } else if (c == '\r') {
                b.append('\n');
                if (i < s.length() && s.charAt(i) == '\n') {
                    i++; // CR LF is one line break
                }
            } else {
                b.append("\\u{").append(Integer.toHexString(c)).append('}');
            }
        }
        return b.toString();
    }

    private static String str(Instant t) {
        return t == null ? null : t.toString();
    }

    private static String nz(String s) {
        return s == null ? "-" : s;
    }
}
