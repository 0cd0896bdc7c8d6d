/// The engine's own methods (the status every surface starts from). Each area lists its methods
/// in one place like this; `MethodCatalogue.standard` concatenates the areas.
enum EngineMethods {
    static let all: [MethodDefinition] = [StatusMethod.definition]
}
