"""Privacy: find everything stored about one person, export it, erase it everywhere."""
