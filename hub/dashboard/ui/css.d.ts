// Stylesheets imported for Bun.build to bundle (into the one hashed .css file).
declare module "*.css";
