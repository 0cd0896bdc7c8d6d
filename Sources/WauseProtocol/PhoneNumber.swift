import WauseSupport
/// Phone numbers as DESIGN.md normalises them everywhere: drop spaces, dashes, dots, parentheses
/// and one leading `+`; what remains must be 8–15 digits not starting with 0 (E.164 without the
/// plus). `+1 (555) 123-4567` → `15551234567`.
public enum PhoneNumber {
    public static func normalize(_ text: String) throws(WauseError) -> String {
        var digits = ""
        var sawPlus = false
        for character in text {
            switch character {
            case " ", "-", ".", "(", ")", "\u{00A0}": continue
            case "+" where digits.isEmpty && !sawPlus: sawPlus = true
            case "0"..."9": digits.append(character)
            default:
                throw .invalidRequest("'\(text)' is not a phone number: only digits, spaces, dashes, dots, parentheses and one leading + are allowed")
            }
        }
        guard (8...15).contains(digits.count), digits.first != "0" else {
            throw .invalidRequest("'\(text)' is not a phone number: expected 8 to 15 digits with the country code, not starting with 0")
        }
        return digits
    }
}
