// Rules read their thresholds from the config at every evaluation (many
// thousand a second in a replay). What a rule derives from its config
// section (its metrics, the rule's shape) is made once per section here
// rather than at each evaluation. A config is never changed in place (a
// reload parses a new one), so a new section derives anew.
export function derivedFrom<Section extends object, Derived>(derive: (section: Section) => Derived): (section: Section) => Derived {
  const made = new WeakMap<Section, Derived>();
  return (section) => {
    let derived = made.get(section);
    if (derived === undefined) made.set(section, (derived = derive(section)));
    return derived;
  };
}
