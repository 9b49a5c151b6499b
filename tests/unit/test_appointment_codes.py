"""Booking codes: 8 characters of the alphabet without look-alikes, every code as likely."""
from app.domain.appointments import CODE_ALPHABET, CODE_LENGTH, CODE_SPACE, new_code, normal_code


def test_a_code_is_eight_characters_of_the_alphabet_and_reads_back_as_typed():
    for _ in range(200):
        code = new_code()
        assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
        assert normal_code(f" {code[:4].lower()}-{code[4:]} ") == code
    assert CODE_SPACE == 31 ** 8


def test_every_character_turns_up_at_every_position():
    # A missing one would mean some codes are never made: with 3,000 codes the chance that a
    # given character never shows at a given position is (30/31)^3000, about e^-98.
    codes = [new_code() for _ in range(3000)]
    assert len(set(codes)) == len(codes)
    for position in range(CODE_LENGTH):
        assert {code[position] for code in codes} == set(CODE_ALPHABET)
